"""A real Chromium in the admin: revoke a token (log in, tick, "Revoke at Zoho and delete", Go,
confirm), and both lists at 1366 and 1920 px without horizontal scrolling.

Skipped when chromium or chromedriver is missing, except under ``CI=true`` where a missing
browser fails. Screenshots go to ``artifacts/``; the layout test writes
``docs/admin-{tokens,audit}-{1366,1920}.png`` for the README.
"""

from __future__ import annotations

import time

import pytest

from tests.factories import TokenAuditEventFactory, UserFactory, ZohoTokenFactory
from tests.helpers import has_horizontal_scroll, screenshot, set_window_width
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
    screenshot(browser, "admin-list.png")

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
    assert event.actor is not None
    assert (event.actor.username, event.source) == ("operator", "admin")

    browser.find_element(By.PARTIAL_LINK_TEXT, "bob@example.com").click()
    page = browser.page_source
    assert bob.masked("access_token") in page
    assert bob.access_token not in page and bob.client_secret not in page
    screenshot(browser, "admin-token.png")


def _log_in(browser, live_server, next_url: str) -> None:
    from selenium.webdriver.common.by import By

    UserFactory(username="operator", is_superuser=True, password=_PASSWORD)
    browser.get(f"{live_server.url}/admin/login/?next={next_url}")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def _assert_fits(browser, what: str, width: int) -> None:
    """No horizontal scrollbar: neither the page nor the admin's scrolling results box."""
    assert not has_horizontal_scroll(browser), f"{what} at {width} px scrolls sideways"
    box = browser.execute_script(
        "const r = document.querySelector('#changelist .results');"
        "return r ? [r.scrollWidth, r.clientWidth] : null;"
    )
    assert box is not None and box[0] <= box[1], f"{what} table at {width} px scrolls: {box}"


def test_token_and_audit_lists_fit_a_laptop_screen(
    browser, live_server, zoho_settings_for, fake_zoho
):
    """The token list and the audit list at 1366 and 1920 px: no horizontal scrollbar; the
    screenshots are the README's."""
    from selenium.webdriver.common.by import By

    now = int(time.time() * 1000)
    rows = [
        ZohoTokenFactory(
            user_name="ann.longname@very-long-company-name.example:700000001",
            api_domain=fake_zoho.url,
        ),
        ZohoTokenFactory(
            user_name="bob@example.com:700000002",
            api_domain="https://www.zohoapis.eu",
            expiry_time=now - 12 * 60_000,
        ),
        ZohoTokenFactory(
            user_name="carol@acme.example:700000077",
            tenant="acme-industries",
            expiry_time=now + 4 * 60_000,
        ),
        ZohoTokenFactory(
            user_name="dan@example.com:700000003",
            api_domain="https://www.zohoapis.com.au",
            invalid_reason="invalid_code",
        ),
        ZohoTokenFactory(
            user_name="erin@example.com:700000004",
            refresh_backoff_until=now + 60_000,
            refresh_error="timeout",
        ),
    ]
    for row in rows:
        for action, detail in (
            ("grant_exchanged", {"created": True, "expiry_time": now + 3_600_000}),
            ("refreshed", {"created": False, "expiry_time": now + 3_600_000, "replaced_ids": []}),
            ("refresh_failed", {"zoho_error": "timeout"}),
        ):
            TokenAuditEventFactory(
                token_id=row.pk,
                user_name=row.user_name,
                tenant=row.tenant,
                action=action,
                outcome="error" if "failed" in action else "ok",
                detail=detail,
            )

    tokens = "/admin/zoho_tokens/zohotoken/"
    audit = "/admin/zoho_tokens/tokenauditevent/"
    _log_in(browser, live_server, tokens)
    browser.find_element(By.ID, "result_list")
    for width in (1366, 1920):
        set_window_width(browser, width)
        browser.get(live_server.url + tokens)
        listing = browser.find_element(By.ID, "result_list").text
        assert "fake Zoho (demo)" in listing and "EU" in listing
        assert "tenant acme-industries" in listing
        _assert_fits(browser, "token list", width)
        screenshot(browser, f"admin-tokens-{width}.png", docs=True)

        browser.get(live_server.url + audit)
        listing = browser.find_element(By.ID, "result_list").text
        assert "refresh failed" in listing and "zoho_error: timeout" in listing
        assert rows[0].pk in listing
        _assert_fits(browser, "audit list", width)
        screenshot(browser, f"admin-audit-{width}.png", docs=True)

    # The token page tells its story: the audit trail inline, times to the second.
    set_window_width(browser, 1366)
    browser.get(f"{live_server.url}{tokens}{rows[4].pk}/change/")
    trail = browser.find_element(By.ID, "zt-audit").text
    assert "refresh failed" in trail and "grant exchanged" in trail
    assert not has_horizontal_scroll(browser)
    browser.execute_script("document.getElementById('zt-audit-module').scrollIntoView()")
    screenshot(browser, "admin-token-page-1366.png", docs=True)


def test_needs_attention_filter_reason_and_reconnect_in_a_real_browser(
    browser, live_server, zoho_settings_for, fake_zoho, settings
):
    """The changelist's "needs attention" filter with its count, the reason in words, and the
    Reconnect link that runs the web flow for the row's tenant, back to a working row."""
    from selenium.webdriver.common.by import By

    settings.ZOHO_TOKENS = {**zoho_settings_for, "SUCCESS_URL": "/admin/zoho_tokens/zohotoken/"}
    now = int(time.time() * 1000)
    ZohoTokenFactory(user_name="ok@example.com:700000001", expiry_time=now + 3_000_000)
    dead = ZohoTokenFactory(
        user_name="dead@acme.example:700000031", tenant="acme", invalid_reason="invalid_code"
    )
    ZohoTokenFactory(
        user_name="slow@example.com:700000001",
        expiry_time=now + 120_000,
        refresh_backoff_until=now + 60_000,
        refresh_failures=2,
        refresh_error="timeout",
    )
    fake_zoho.add_user("dead@acme.example", zgid="700000031")

    _log_in(browser, live_server, "/admin/zoho_tokens/zohotoken/")
    browser.find_element(By.ID, "result_list")
    browser.find_element(By.PARTIAL_LINK_TEXT, "needs attention (2)").click()
    rows = browser.find_element(By.ID, "result_list").text
    assert "dead@acme.example" in rows and "slow@example.com" in rows
    assert "ok@example.com" not in rows
    assert "Zoho refused the refresh token (invalid_code)" in rows
    assert "2 refresh(es) failed in a row (last: timeout)" in rows
    screenshot(browser, "admin-needs-attention.png")

    links = browser.find_elements(By.CSS_SELECTOR, "a.zt-reconnect")
    assert len(links) == 1  # only the dead one needs a reconnect; backing off heals itself
    links[0].click()
    # Zoho's consent page (the fake's), for the tenant of the row: approve as the same user.
    browser.find_element(By.XPATH, "//button[contains(., 'dead@acme.example')]").click()
    browser.find_element(By.ID, "result_list")
    assert "is connected as dead@acme.example:700000031" in browser.page_source
    fresh = ZohoToken.objects.get(pk=dead.pk)
    assert (fresh.tenant, fresh.invalid_reason, fresh.status()) == ("acme", "", "active")
    assert TokenAuditEvent.objects.filter(action="recovered", token_id=dead.pk).count() == 1
