"""The README's demo command starts: fake Zoho, a connected user, an admin login, a server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_the_admin_with_a_connected_user(tmp_path):
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
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output += line
        match = re.search(r"login:\s+admin / (\S+)", output)
        assert match, output
        password = match.group(1)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        # Log in and see the stored connection in the admin list.
        import http.cookiejar

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"http://127.0.0.1:{port}/admin/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {
                "username": "admin",
                "password": password,
                "csrfmiddlewaretoken": csrf,
                "next": "/admin/zoho_tokens/zohotoken/",
            }
        ).encode()
        listing = opener.open(f"http://127.0.0.1:{port}/admin/login/", data).read().decode()
        assert "ann@example.com" in listing
    finally:
        proc.terminate()
        proc.wait(timeout=10)
