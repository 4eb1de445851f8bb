"""A real Chromium revokes a token from the admin: log in, tick, "Revoke at Zoho and delete", Go.

Skipped when chromium or chromedriver is missing, except under ``CI=true`` where a missing
browser fails. Screenshots go to ``artifacts/``; with ``ZOHO_TOKENS_SCREENSHOT=docs/admin.png``
the changelist (before revoking) is also saved there for the README.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.factories import UserFactory, ZohoTokenFactory
from tests.helpers import ROOT
from zoho_tokens.models import TokenAuditEvent, ZohoToken

ARTIFACTS = ROOT / "artifacts"
CHROMIUM_OPTIONS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1760,800",
]

_PASSWORD = "browser-pw-123456789"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser():
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if not (chromium and driver_path and webdriver):
        reason = (
            "browser test needs chromium, chromedriver and selenium "
            f"(found chromium={chromium}, chromedriver={driver_path}, "
            f"selenium={'yes' if webdriver else 'no'}); apt-get install chromium chromium-driver"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="zt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in [*CHROMIUM_OPTIONS, f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def test_revoke_from_the_admin_in_a_real_browser(
    browser, live_server, zoho_settings_for, fake_zoho
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    UserFactory(username="operator", is_superuser=True, password=_PASSWORD)
    ann = ZohoTokenFactory(user_name="ann@example.com:700000001")
    now = int(time.time() * 1000)
    bob = ZohoTokenFactory(
        user_name="bob@example.com:700000001",
        api_domain="https://www.zohoapis.eu",
        expiry_time=now - 12 * 60_000,  # expired access token, refreshable
    )
    ZohoTokenFactory(
        user_name="carol@acme.example:700000077", tenant="acme", expiry_time=now + 4 * 60_000
    )
    fake_zoho.add_refresh_token(ann.refresh_token)

    listing = f"{live_server.url}/admin/zoho_tokens/zohotoken/"
    browser.get(f"{live_server.url}/admin/login/?next=/admin/zoho_tokens/zohotoken/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "result_list")
    assert browser.current_url == listing
    page = browser.page_source
    assert "ann@example.com" in page
    assert ann.refresh_token not in page and ann.access_token not in page
    assert ann.masked("refresh_token") in page
    shot = screenshot(browser, "admin-list.png")
    target = os.environ.get("ZOHO_TOKENS_SCREENSHOT")
    if target:
        dest = Path(target) if Path(target).is_absolute() else ROOT / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, dest)

    browser.find_element(
        By.CSS_SELECTOR, f'input[name="_selected_action"][value="{ann.pk}"]'
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text(
        "Revoke at Zoho and delete"
    )
    browser.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()

    success = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success")
    assert "Revoked 1 of 1" in success.text
    assert "revoked at Zoho and deleted" in success.text
    screenshot(browser, "admin-revoke.png")
    rows = browser.find_element(By.ID, "result_list").text
    assert "bob@example.com" in rows
    assert "ann@example.com" not in rows
    assert not ZohoToken.objects.filter(pk=ann.pk).exists()
    assert ZohoToken.objects.count() == 2
    assert fake_zoho.counters["revoke"] == 1
    event = TokenAuditEvent.objects.get(action="revoked")
    assert (event.actor.username, event.source) == ("operator", "admin")

    browser.find_element(By.PARTIAL_LINK_TEXT, "bob@example.com").click()
    page = browser.page_source
    assert bob.masked("access_token") in page
    assert bob.access_token not in page and bob.client_secret not in page
    screenshot(browser, "admin-token.png")
