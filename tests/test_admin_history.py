"""The token page tells its story: the audit trail inline and behind "History", failures
audited with Zoho's error code, purges that keep who was purged, times with seconds in the
project's time zone and expiry as a date."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import TokenAuditEventFactory, ZohoTokenFactory
from tests.helpers import add_url, assert_no_secret, change_url, run_action, secrets_of
from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import RefreshFailed, ZohoUnreachable
from zoho_tokens.models import AuditAction, TokenAuditEvent, ZohoToken
from zoho_tokens.outcomes import Status

pytestmark = pytest.mark.django_db

AUDIT_CHANGELIST = "admin:zoho_tokens_tokenauditevent_changelist"


def history_url(row: ZohoToken) -> str:
    return reverse("admin:zoho_tokens_zohotoken_history", args=[row.pk])


def events_for(row: ZohoToken, n: int, start: dt.datetime) -> list[TokenAuditEvent]:
    """``n`` audit events for ``row``, one a second from ``start`` (action ``saved``)."""
    made = []
    for i in range(n):
        event = TokenAuditEventFactory(
            token_id=row.pk, user_name=row.user_name, action="saved", detail={"n": i}
        )
        TokenAuditEvent.objects.filter(pk=event.pk).update(
            created_at=start + dt.timedelta(seconds=i)
        )
        made.append(event)
    return made


START = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


# -- the token page and History --------------------------------------------------------------


def test_token_page_shows_its_latest_audit_events_newest_first(admin_client, zoho_settings_for):
    row = ZohoTokenFactory(user_name="ann@example.com:1")
    other = ZohoTokenFactory(user_name="bob@example.com:1")
    events_for(row, 25, START)
    TokenAuditEventFactory(token_id=other.pk, user_name=other.user_name, action="revoked")

    response = admin_client.get(change_url(row))
    assert response.status_code == 200
    html = assert_no_secret(response.content.decode(), *secrets_of(row, other))
    table = html[html.index('id="zt-audit"') :]
    table = table[: table.index("</table>")]
    # the latest 20 of 25, newest first, with seconds; not the other token's
    assert table.count("<tr") == 21  # header + 20
    assert table.index("2026-01-02 03:04:29") < table.index("2026-01-02 03:04:10")
    assert "2026-01-02 03:04:09" not in table
    assert "revoked" not in table
    assert "<input" not in table and "<textarea" not in table  # read only
    filtered = reverse(AUDIT_CHANGELIST) + f"?token_id={row.pk}"
    assert f'href="{filtered}"' in html.replace("&amp;", "&")
    assert "all 25 audit events" in html
    listing = admin_client.get(filtered)
    assert listing.status_code == 200
    assert len(listing.context["cl"].result_list) == 25


def test_history_button_shows_the_audit_trail_paginated(admin_client, zoho_settings_for):
    row = ZohoTokenFactory(user_name="ann@example.com:1")
    events_for(row, 60, START)
    page = admin_client.get(history_url(row))
    assert page.status_code == 200
    html = assert_no_secret(page.content.decode(), *secrets_of(row))
    assert "doesn’t have a change history" not in html and "change history" not in html.lower()
    assert "2026-01-02 03:05:04" in html  # newest (the 60th) first
    assert html.index("2026-01-02 03:05:04") < html.index("2026-01-02 03:04:55")
    assert "2026-01-02 03:04:05" not in html  # the oldest is on page 2
    page2 = admin_client.get(history_url(row) + "?p=2").content.decode()
    assert "2026-01-02 03:04:05" in page2
    assert "2026-01-02 03:05:04" not in page2
    # the token page's History button leads here
    assert f'href="{history_url(row)}"' in admin_client.get(change_url(row)).content.decode()


def test_history_of_a_deleted_token_still_shows_its_trail(admin_client, zoho_settings_for):
    row = ZohoTokenFactory(user_name="ann@example.com:1")
    events_for(row, 2, START)
    ZohoToken.objects.filter(pk=row.pk).delete()
    response = admin_client.get(history_url(row))
    assert response.status_code == 200
    assert "ann@example.com:1" in response.content.decode()


def test_times_have_seconds_in_the_project_time_zone(admin_client, zoho_settings_for, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    row = ZohoTokenFactory(user_name="ann@example.com:1")
    events_for(row, 1, START)
    listing = admin_client.get(reverse(AUDIT_CHANGELIST)).content.decode()
    assert "2026-01-02 08:34:05" in listing
    assert "2026-01-02 08:34:05" in admin_client.get(change_url(row)).content.decode()


def test_audit_detail_shows_expiry_as_a_date(admin_client, zoho_settings_for):
    expiry_ms = int(dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC).timestamp() * 1000)
    event = TokenAuditEventFactory(
        user_name="ann@example.com:1", action="refreshed", detail={"expiry_time": expiry_ms}
    )
    page = admin_client.get(reverse("admin:zoho_tokens_tokenauditevent_change", args=[event.pk]))
    html = page.content.decode()
    assert "2026-03-04 05:06:07" in html
    assert str(expiry_ms) not in html


# -- purges keep who was purged ----------------------------------------------------------------


def test_purge_audit_rows_keep_each_users_name_and_tenant(admin_client, zoho_settings_for):
    ann = ZohoTokenFactory(user_name="ann@example.com:1", tenant="acme")
    bob = ZohoTokenFactory(user_name="bob@example.com:1", tenant="")
    run_action(admin_client, "purge_selected", [ann, bob], post="yes")
    assert not ZohoToken.objects.exists()
    rows = {
        e.token_id: (e.user_name, e.tenant, e.detail["count"])
        for e in TokenAuditEvent.objects.filter(action="purged")
    }
    assert rows == {
        ann.pk: ("ann@example.com:1", "acme", 2),
        bob.pk: ("bob@example.com:1", "", 2),
    }
    # and the token's history still says what happened to it
    assert "purged" in admin_client.get(history_url(ann)).content.decode()


# -- failures are audited with Zoho's error code ----------------------------------------------


def test_failed_grant_exchange_is_audited_with_zohos_error(
    admin_client, admin_user, zoho_settings_for, fake_zoho
):
    used = "1000.usedgrant0123456789abcdef.0123456789abcdef"
    admin_client.post(add_url(), {"grant_token": used, "data_center": "us", "tenant": "acme"})
    event = TokenAuditEvent.objects.get(action=AuditAction.GRANT_FAILED)
    assert (event.actor, event.source, event.outcome, event.tenant) == (
        admin_user,
        "admin",
        "error",
        "acme",
    )
    assert event.detail["zoho_error"] == "invalid_code"
    assert used not in str(event.detail)


def test_failed_grant_exchange_when_zoho_is_unreachable_is_audited(zoho_settings_for, fake_zoho):
    code = fake_zoho.add_grant()
    fake_zoho.stop()
    with pytest.raises(ZohoUnreachable):
        services.exchange_grant(code, source=AuditSource.COMMAND)
    event = TokenAuditEvent.objects.get(action=AuditAction.GRANT_FAILED)
    assert (event.source, event.detail["zoho_error"]) == ("command", "network")


def test_failed_refresh_is_audited_with_the_error_code(live_token, fake_zoho):
    row = live_token("ann@example.com:700000001", expires_in_ms=-60_000)
    fake_zoho.stop()
    with pytest.raises(RefreshFailed) as failed:
        services.refresh_now(row, source=AuditSource.COMMAND)
    assert failed.value.reason == "network"
    event = TokenAuditEvent.objects.get(action=AuditAction.REFRESH_FAILED, token_id=row.pk)
    assert (event.outcome, event.detail["zoho_error"]) == ("error", "network")
    assert event.user_name == "ann@example.com:700000001"


def test_failed_revoke_is_audited_with_the_error_code(live_token, fake_zoho):
    row = live_token("ann@example.com:700000001")
    fake_zoho.stop()
    report = services.revoke_tokens([row.pk], source=AuditSource.COMMAND)
    assert report.count(Status.REVOKED, Status.DELETED) == 0
    assert report.count(Status.KEPT) == 1
    event = TokenAuditEvent.objects.get(action=AuditAction.REVOKE_FAILED, token_id=row.pk)
    assert (event.outcome, event.detail["zoho_error"]) == ("error", "network")
