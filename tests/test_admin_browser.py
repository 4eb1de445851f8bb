"""A real Chromium revokes a token from the admin: log in, tick, "Revoke at Zoho and delete", Go.

Skipped when chromium or chromedriver is missing, except under ``CI=true`` where a missing
browser fails. Screenshots go to ``artifacts/``; with ``ZOHO_TOKENS_SCREENSHOT=docs/admin.png``
the changelist (before revoking) is also saved there for the README.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.factories import UserFactory, ZohoTokenFactory
from tests.helpers import ROOT, screenshot
from zoho_tokens.models import TokenAuditEvent, ZohoToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_PASSWORD = "browser-pw-123456789"


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

    # The confirmation page: who, where, and that Zoho will be told; nothing happened yet.
    confirm = browser.find_element(By.ID, "revoke-list").text
    assert "ann@example.com:700000001" in confirm
    assert "Zoho will be told" in browser.page_source
    assert fake_zoho.counters["revoke"] == 0
    screenshot(browser, "admin-revoke-confirm.png")
    browser.find_element(By.CSS_SELECTOR, 'input[type="submit"]').click()

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
