"""Each signal reaches a receiver exactly once, with the documented arguments, from the
admin and the command paths (the SDK/store paths are in test_signals.py, the web flow's in
test_web_flow.py)."""

from __future__ import annotations

import pytest

from tests.factories import ZohoTokenFactory
from tests.helpers import add_url, command_output, now_ms, run_action
from zoho_tokens.models import ZohoToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_row(live_token):
    return live_token()


def test_admin_revoke_action(
    rec, admin_client, admin_user, live_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, "revoke_selected", [live_row], post="yes")
    revoked = rec.one("token_revoked")
    assert (revoked["token"].pk, revoked["actor"], revoked["source"], revoked["remote"]) == (
        live_row.pk,
        admin_user,
        "admin",
        True,
    )
    deleted = rec.one("token_deleted")
    assert (deleted["token"].pk, deleted["actor"], deleted["source"]) == (
        live_row.pk,
        admin_user,
        "admin",
    )
    assert sorted(rec.names()) == ["token_deleted", "token_revoked"]


def test_admin_purge_action(rec, admin_client, admin_user, django_capture_on_commit_callbacks):
    rows = ZohoTokenFactory.create_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, "purge_selected", rows, post="yes")
    purged = rec.one("tokens_purged")
    assert purged["count"] == 2 and set(purged["token_ids"]) == {r.pk for r in rows}
    assert (purged["actor"], purged["source"]) == (admin_user, "admin")
    assert rec.names() == ["tokens_purged"]


def test_admin_connect(
    rec, admin_client, admin_user, fake_zoho, zoho_settings_for, django_capture_on_commit_callbacks
):
    code = fake_zoho.add_grant(email="adm@example.com", zgid="5")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(add_url(), {"grant_token": code, "data_center": "us"})
    exchanged = rec.one("grant_exchanged")
    assert (exchanged["actor"], exchanged["source"]) == (admin_user, "admin")
    assert exchanged["token"].user_name == "adm@example.com:5"
    assert rec.one("token_saved")["created"] is True


def test_command_login(rec, fake_zoho, zoho_settings_for, django_capture_on_commit_callbacks):
    code = fake_zoho.add_grant(email="cli@example.com", zgid="6")
    with django_capture_on_commit_callbacks(execute=True):
        command_output("zoho_login", "--grant-token", code, "--no-input")
    exchanged = rec.one("grant_exchanged")
    assert (exchanged["actor"], exchanged["source"]) == (None, "command")
    assert rec.one("token_saved")["source"] == "command"


def test_command_refresh(rec, live_row, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        command_output("zoho_tokens", "refresh", live_row.pk)
    refreshed = rec.one("token_refreshed")
    assert (refreshed["token"].pk, refreshed["source"]) == (live_row.pk, "command")
    assert rec.one("token_saved")["created"] is False


def test_command_revoke(rec, live_row, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        command_output("zoho_tokens", "revoke", live_row.pk, "--yes")
    revoked = rec.one("token_revoked")
    assert (revoked["source"], revoked["remote"], revoked["actor"]) == ("command", True, None)
    assert rec.one("token_deleted")["source"] == "command"


def test_command_purge(rec, django_capture_on_commit_callbacks):
    dead = ZohoTokenFactory(invalid_reason="invalid_code")
    ZohoTokenFactory(expiry_time=now_ms() + 3_600_000)
    with django_capture_on_commit_callbacks(execute=True):
        command_output("zoho_tokens", "purge", "--invalid", "--yes")
    purged = rec.one("tokens_purged")
    assert (purged["token_ids"], purged["count"], purged["source"]) == ([dead.pk], 1, "command")
    assert ZohoToken.objects.count() == 1
