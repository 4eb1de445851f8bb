"""The README's demo command starts: fake Zoho, a connected user, an admin login, a server;
its demo page lists fresh grant codes, and both connect paths work in a real browser."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers import ROOT, screenshot, set_window_width


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Demo:
    url: str
    password: str
    output: str
    proc: subprocess.Popen | None = None

    def stop(self) -> str:
        """Stop the demo; everything it printed since it started serving."""
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.communicate(timeout=20)[0]


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    """``python -m project.demo`` on a free port with its own SQLite file."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "project.demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = ""
        deadline = time.monotonic() + 60
        while "login:" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line and proc.poll() is not None:
                break
            output += line
        match = re.search(r"login:\s+admin / (\S+)", output)
        assert match, output
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/admin/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield Demo(base, match.group(1), output, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_serves_the_admin_with_a_connected_user(demo):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{demo.url}/admin/login/").read().decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page[:200]
    csrf = found.group(1)
    data = urllib.parse.urlencode(
        {
            "username": "admin",
            "password": demo.password,
            "csrfmiddlewaretoken": csrf,
            "next": "/admin/zoho_tokens/zohotoken/",
        }
    ).encode()
    listing = opener.open(f"{demo.url}/admin/login/", data).read().decode()
    assert "ann@example.com" in listing
    assert "fake Zoho (demo)" in listing
    assert f"demo page: {demo.url}/" in demo.output


def test_a_busy_port_says_what_to_do_before_anything_secret(tmp_path):
    """The README's demo command on a port something else holds: one line naming the port
    and ``--port``, exit 1, and no admin password printed (nothing was set up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "project.demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "login:" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"port {port} " in done.stderr and "--port" in done.stderr
    assert not (tmp_path / "demo.sqlite3").exists()  # it stopped before migrating


@pytest.mark.browser
def test_demo_connects_through_the_consent_page_and_a_grant_code(demo, browser):
    """A second user through "Connect Zoho CRM" (the fake's consent page), a third by pasting
    a grant code from the demo page into "Connect with a grant token"."""
    from selenium.webdriver.common.by import By

    set_window_width(browser, 1366)
    browser.get(f"{demo.url}/admin/login/?next=/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(demo.password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # The demo page: both connect paths, and fresh grant codes for the fake's users.
    browser.find_element(By.ID, "grant-codes")
    assert browser.current_url == f"{demo.url}/"
    codes = {
        row.find_element(By.CSS_SELECTOR, ".email").text: row.find_element(
            By.CSS_SELECTOR, ".code"
        ).text
        for row in browser.find_elements(By.CSS_SELECTOR, "#grant-codes tbody tr")
    }
    assert {"bob@example.com", "carol@example.com"} <= set(codes), codes
    screenshot(browser, "demo-home.png", docs=True)

    # 1. "Connect Zoho CRM": the fake's consent page, approve as bob, back in the admin.
    browser.find_element(By.LINK_TEXT, "Connect Zoho CRM").click()
    assert "/oauth/v2/auth" in browser.current_url
    assert "Fake Zoho: authorize an application" in browser.page_source
    screenshot(browser, "demo-consent.png", docs=True)
    browser.find_element(
        By.XPATH, "//button[normalize-space()='Approve as bob@example.com']"
    ).click()
    success = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert "bob@example.com" in success
    assert "/admin/zoho_tokens/zohotoken/" in browser.current_url

    # 2. "Connect with a grant token" with carol's code from the demo page.
    browser.get(f"{demo.url}/")
    browser.find_element(By.LINK_TEXT, "Connect with a grant token").click()
    browser.find_element(By.NAME, "grant_token").send_keys(codes["carol@example.com"])
    browser.find_element(By.NAME, "_connect").click()
    success = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert "carol@example.com" in success

    browser.get(f"{demo.url}/admin/zoho_tokens/zohotoken/")
    listing = browser.find_element(By.ID, "result_list").text
    for email in ("ann@example.com", "bob@example.com", "carol@example.com"):
        assert email in listing
    assert "fake Zoho (demo)" in listing
    screenshot(browser, "demo-connected.png", docs=True)

    # The demo page now shows the codes it has minted since (carol's is used up).
    browser.get(f"{demo.url}/")
    shown = browser.find_element(By.ID, "grant-codes").text
    assert codes["carol@example.com"] not in shown


@pytest.mark.browser
def test_demo_kills_a_connection_notifies_reports_and_reconnects(demo, browser):
    """The fake's button revokes ann's refresh token; a refresh finds the connection dead;
    the admins' mail is printed on the console; the health says CRITICAL; the admin's
    Reconnect link brings it back."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{demo.url}/admin/login/?next=/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(demo.password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.ID, "health").text.startswith("OK: 1 Zoho connection(s)")

    Select(browser.find_element(By.NAME, "user")).select_by_visible_text(
        "ann@example.com:700000001"
    )
    browser.find_element(By.ID, "revoke-user").click()
    # find_element waits (implicitly) for the page the click loads; page_source would not.
    browser.find_element(By.XPATH, "//*[contains(text(), 'revoked 1 refresh token(s)')]")
    browser.find_element(By.ID, "refresh-now").click()
    error = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.error").text
    assert "invalid" in error
    health = browser.find_element(By.ID, "health").text
    assert health.startswith("CRITICAL") and "Zoho refused the refresh token" in health
    screenshot(browser, "demo-dead-connection.png")

    browser.get(f"{demo.url}/admin/zoho_tokens/zohotoken/?attention=yes")
    browser.find_element(By.CSS_SELECTOR, "a.zt-reconnect").click()
    browser.find_element(
        By.XPATH, "//button[normalize-space()='Approve as ann@example.com']"
    ).click()
    success = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert "ann@example.com" in success
    browser.get(f"{demo.url}/")
    assert browser.find_element(By.ID, "health").text.startswith("OK")

    time.sleep(1)  # the notices are mailed from a background thread
    console = demo.stop()
    assert "Subject: [Django] Zoho connection dead: ann@example.com:700000001" in console
    assert "Subject: [Django] Zoho connection recovered: ann@example.com:700000001" in console
    assert "To: ops@example.com" in console
