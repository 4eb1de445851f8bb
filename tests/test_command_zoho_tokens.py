"""``manage.py zoho_tokens list|refresh|revoke|purge`` against the fake Zoho over HTTP."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import time

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import ZohoTokenFactory
from tests.test_command_zoho_login import (
    KEY,
    TTY,
    ZohoTokensSettings,
    assert_no_secret,
    child_env,
    run_manage,
)
from zoho_tokens.models import TokenAuditEvent, ZohoToken


@pytest.fixture(autouse=True)
def _zoho_tokens_settings(settings, zoho_settings_for):
    """ZOHO_TOKENS at the fake Zoho with the key that child processes get too."""
    ZohoTokensSettings(settings)["ENCRYPTION_KEYS"] = [KEY]


def zt(*args: str) -> tuple[int, str, str]:
    """Run ``zoho_tokens`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("zoho_tokens", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def seed(fake_zoho, email: str, *, expires_in: int = 3600, **fields) -> ZohoToken:
    """A stored token whose refresh and access tokens the fake Zoho knows."""
    refresh_token = fake_zoho.add_refresh_token(email=email)
    return ZohoTokenFactory(
        user_name=f"{email}:700000001",
        refresh_token=refresh_token,
        access_token=fake_zoho.issue_access_token(refresh_token),
        expiry_time=int(time.time() * 1000) + expires_in * 1000,
        api_domain=fake_zoho.url,
        **fields,
    )


def secrets_of(*rows: ZohoToken) -> list[str]:
    return [v for row in rows for v in (row.access_token, row.refresh_token, row.client_secret)]


# -- list ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_table_shows_status_and_expiry_masked(fake_zoho):
    active = seed(fake_zoho, "ann@example.com")
    expiring = seed(fake_zoho, "bob@example.com", expires_in=100)
    expired = seed(fake_zoho, "cat@example.com", expires_in=-120)
    invalid = seed(fake_zoho, "dan@example.com", tenant="acme", invalid_reason="invalid_code")

    code, out, err = zt("list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "USER", "NAME"]
    by_id = {line.split()[0]: line for line in lines[1:-1]}
    assert "active" in by_id[active.pk] and "(in 60 min)" in by_id[active.pk]
    assert "expiring" in by_id[expiring.pk]
    assert "expired" in by_id[expired.pk] and "(2 min ago)" in by_id[expired.pk]
    assert "invalid (invalid_code)" in by_id[invalid.pk] and " acme " in by_id[invalid.pk]
    assert fake_zoho.url in by_id[active.pk]
    assert lines[-1] == "4 tokens (1 active, 1 expired, 1 expiring, 1 invalid)"
    assert_no_secret(out, *secrets_of(active, expiring, expired, invalid))


@pytest.mark.django_db
def test_list_json_and_tenant_filter(fake_zoho):
    seed(fake_zoho, "ann@example.com")
    acme = seed(fake_zoho, "bob@example.com", tenant="acme")
    code, out, err = zt("list", "--tenant", "acme", "--json")
    assert code == 0
    data = json.loads(out)
    assert [d["id"] for d in data] == [acme.pk]
    assert data[0]["refresh_token"] == acme.masked("refresh_token")
    assert data[0]["status"] == "active"
    assert err.strip() == "1 token (1 active)"
    assert_no_secret(out, *secrets_of(acme))

    code, out, _ = zt("list", "--tenant", "nobody")
    assert (code, out.strip()) == (0, "0 tokens")


# -- refresh ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_by_id_gets_a_new_access_token(fake_zoho):
    row = seed(fake_zoho, "ann@example.com", expires_in=600)
    other = seed(fake_zoho, "bob@example.com", expires_in=600)
    code, out, err = zt("refresh", row.pk)
    assert code == 0, err
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert fresh.access_token != row.access_token
    assert fake_zoho.is_access_token_valid(fresh.access_token)
    assert ZohoToken.objects.get(pk=other.pk).access_token == other.access_token
    assert fake_zoho.counters["refresh"] == 1
    assert f"{row.pk} (ann@example.com:700000001): refreshed" in out
    assert out.splitlines()[-1] == "refresh: 1 refreshed, 0 failed, 0 skipped"
    assert TokenAuditEvent.objects.filter(action="refreshed", source="command").count() == 1
    assert_no_secret(out + err, *secrets_of(row, fresh))


@pytest.mark.django_db
def test_refresh_expiring_within_picks_only_those(fake_zoho):
    soon = seed(fake_zoho, "ann@example.com", expires_in=120)
    later = seed(fake_zoho, "bob@example.com", expires_in=3000)
    seed(fake_zoho, "cat@example.com", expires_in=60, invalid_reason="invalid_code")
    code, out, _ = zt("refresh", "--expiring-within", "300")
    assert code == 0
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time
    assert ZohoToken.objects.get(pk=later.pk).expiry_time == later.expiry_time
    assert fake_zoho.counters["refresh"] == 1
    assert out.splitlines()[-1] == (
        "refresh: 1 refreshed, 0 failed, 0 skipped, "
        "1 invalid not tried (reconnect them or 'purge --invalid')"
    )


@pytest.mark.django_db
def test_refresh_stops_at_the_first_throttled_answer(fake_zoho):
    rows = [seed(fake_zoho, f"u{i}@example.com", expires_in=120 + i) for i in range(3)]
    fake_zoho.set_refresh_limit(0)  # Zoho answers "Access Denied"
    code, out, err = zt("refresh", "--all")
    assert code == 1
    assert fake_zoho.counters["refresh"] == 1  # one request, not three
    assert fake_zoho.counters["throttled"] == 1
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).access_token == row.access_token
    assert f"{rows[1].pk} (u1@example.com:700000001): skipped" in out
    assert out.splitlines()[-1].startswith("refresh: 0 refreshed, 1 failed, 2 skipped")
    assert "stopped early" in out.splitlines()[-1]
    assert rows[0].pk in err


@pytest.mark.django_db
def test_refresh_goes_on_after_a_rejected_refresh_token(fake_zoho):
    gone = seed(fake_zoho, "ann@example.com", expires_in=100)
    fine = seed(fake_zoho, "bob@example.com", expires_in=200)
    fake_zoho.revoke_all()
    fake_zoho.add_refresh_token(fine.refresh_token, email="bob@example.com")  # valid again
    code, out, err = zt("refresh", "--all")
    assert code == 1
    assert ZohoToken.objects.get(pk=gone.pk).invalid_reason == "invalid_code"
    assert ZohoToken.objects.get(pk=fine.pk).expiry_time > fine.expiry_time
    assert "invalid_code" in err and "connect this user again" in err
    assert out.splitlines()[-1] == "refresh: 1 refreshed, 1 failed, 0 skipped"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing selected: give token ids, --all, or --expiring-within SECONDS"),
        (("1", "--all"), "give token ids or --all, not both"),
        (("--expiring-within", "-1"), "--expiring-within must be 0 or more seconds"),
    ],
)
def test_refresh_refuses_unclear_selection(fake_zoho, args, message):
    seed(fake_zoho, "ann@example.com")
    code, _, err = zt("refresh", *args)
    assert (code, err.strip()) == (1, message)
    assert fake_zoho.counters["requests"] == 0


@pytest.mark.django_db
def test_refresh_unknown_id_fails(fake_zoho):
    code, out, err = zt("refresh", "404")
    assert code == 1
    assert err.strip() == "404: no such token"
    assert out.strip() == "refresh: 0 refreshed, 1 failed, 0 skipped"


# -- revoke -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_at_zoho_then_delete(fake_zoho):
    row = seed(fake_zoho, "ann@example.com")
    keep = seed(fake_zoho, "bob@example.com")
    code, out, err = zt("revoke", row.pk, "--yes")
    assert code == 0, err
    assert not ZohoToken.objects.filter(pk=row.pk).exists()
    assert ZohoToken.objects.filter(pk=keep.pk).exists()
    assert not fake_zoho.is_refresh_token_valid(row.refresh_token)
    assert fake_zoho.is_refresh_token_valid(keep.refresh_token)
    assert "revoked at Zoho and deleted" in out
    assert out.splitlines()[-1] == "revoke: 1 revoked, 0 failed"
    event = TokenAuditEvent.objects.get(action="revoked")
    assert (event.source, event.token_id, event.detail["remote"]) == ("command", row.pk, True)
    assert_no_secret(out + err, *secrets_of(row))


@pytest.mark.django_db
def test_revoke_during_zoho_outage_keeps_the_row(fake_zoho):
    row = seed(fake_zoho, "ann@example.com")
    fake_zoho.stop()
    code, out, err = zt("revoke", row.pk, "404", "--yes")
    assert code == 1
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert f"{row.pk} (ann@example.com:700000001): kept: cannot reach Zoho Accounts" in err
    assert "404: no such token" in err
    assert out.splitlines()[-1] == "revoke: 0 revoked, 2 failed"
    assert TokenAuditEvent.objects.get(action="revoke_failed").source == "command"


@pytest.mark.django_db
def test_revoke_without_terminal_needs_yes(fake_zoho):
    row = seed(fake_zoho, "ann@example.com")
    code, _, err = zt("revoke", row.pk)
    assert code == 1
    assert "pass --yes" in err
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert fake_zoho.counters["revoke"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("answer", "revoked"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_revoke_asks_on_a_terminal(fake_zoho, monkeypatch, answer, revoked):
    row = seed(fake_zoho, "ann@example.com")
    monkeypatch.setattr(sys, "stdin", TTY(answer))
    code, out, _ = zt("revoke", row.pk)
    assert "Revoke 1 token(s) at Zoho and delete them here? [y/N]" in out
    assert ZohoToken.objects.filter(pk=row.pk).exists() is not revoked
    assert code == (0 if revoked else 1)
    assert fake_zoho.counters["revoke"] == (1 if revoked else 0)


# -- purge --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "refusing to purge without a criterion"),
        (("--tenant", "acme"), "refusing to purge without a criterion"),
        (("--all", "--invalid"), "--all cannot be combined"),
        (("--invalid",), "refusing to purge without confirmation: no terminal to ask on"),
    ],
)
def test_purge_refuses(fake_zoho, args, message):
    seed(fake_zoho, "ann@example.com", invalid_reason="invalid_code")
    code, _, err = zt("purge", *args)
    assert code == 1
    assert message in err
    assert ZohoToken.objects.count() == 1


@pytest.mark.django_db
def test_purge_dry_run_changes_nothing(fake_zoho):
    bad = seed(fake_zoho, "ann@example.com", invalid_reason="invalid_code")
    seed(fake_zoho, "bob@example.com")
    code, out, _ = zt("purge", "--invalid", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        f"would purge {bad.pk} (ann@example.com:700000001)",
        "purge (dry run): 1 would be deleted, nothing changed",
    ]
    assert ZohoToken.objects.count() == 2
    assert not TokenAuditEvent.objects.filter(action="purged").exists()
    assert fake_zoho.counters["requests"] == 0


@pytest.mark.django_db
def test_purge_by_criteria(fake_zoho):
    bad = seed(fake_zoho, "ann@example.com", invalid_reason="invalid_code")
    old_bad = seed(fake_zoho, "bob@example.com", invalid_reason="invalid_code")
    old_good = seed(fake_zoho, "cat@example.com")
    acme = seed(fake_zoho, "dan@example.com", tenant="acme")
    long_ago = timezone.now() - dt.timedelta(days=40)
    ZohoToken.objects.filter(pk__in=[old_bad.pk, old_good.pk]).update(updated_at=long_ago)

    code, out, _ = zt("purge", "--invalid", "--older-than", "30", "--yes")  # AND
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    assert set(ZohoToken.objects.values_list("pk", flat=True)) == {bad.pk, old_good.pk, acme.pk}

    code, out, _ = zt("purge", "--all", "--tenant", "acme", "--yes")
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    event = TokenAuditEvent.objects.filter(action="purged").latest("id")
    assert (event.source, event.tenant, event.detail["token_ids"]) == ("command", "acme", [acme.pk])

    code, out, _ = zt("purge", "--invalid", "--yes")
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    assert list(ZohoToken.objects.values_list("pk", flat=True)) == [old_good.pk]
    assert fake_zoho.counters["requests"] == 0  # local only

    code, out, _ = zt("purge", "--invalid", "--yes")
    assert (code, out.strip()) == (0, "purge: 0 tokens matched, nothing deleted")


@pytest.mark.django_db
def test_purge_asks_on_a_terminal(fake_zoho, monkeypatch):
    seed(fake_zoho, "ann@example.com")
    monkeypatch.setattr(sys, "stdin", TTY("n\n"))
    code, out, _ = zt("purge", "--all")
    assert code == 1 and "cancelled" in out
    assert ZohoToken.objects.count() == 1
    monkeypatch.setattr(sys, "stdin", TTY("yes\n"))
    code, out, _ = zt("purge", "--all")
    assert code == 0 and out.endswith("[y/N] purge: 1 deleted\n")
    assert not ZohoToken.objects.exists()


def test_purge_older_than_must_be_positive():
    with pytest.raises(CommandError, match="--older-than: must be at least 1 day"):
        call_command("zoho_tokens", "purge", "--older-than", "0")


def test_subcommand_help_has_examples(capsys):
    for name in ("list", "refresh", "revoke", "purge"):
        with pytest.raises(SystemExit):
            call_command("zoho_tokens", name, "--help")
        text = capsys.readouterr().out
        assert f"usage: zoho_tokens {name}" in text
        if name != "list":
            assert "examples:" in text


# -- real child processes -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_subprocess_list_refresh_revoke_outage_and_dry_run(fake_zoho):
    ann = seed(fake_zoho, "ann@example.com", expires_in=100)
    bad = seed(fake_zoho, "bob@example.com", invalid_reason="invalid_code")
    env = child_env(fake_zoho.url)

    result = run_manage("zoho_tokens", "list", env=env)
    assert result.returncode == 0, result.stderr
    assert ann.pk in result.stdout and bad.pk in result.stdout
    assert result.stdout.splitlines()[-1] == "2 tokens (1 expiring, 1 invalid)"

    result = run_manage("zoho_tokens", "refresh", "--expiring-within", "300", env=env)
    assert result.returncode == 0, result.stderr
    assert ZohoToken.objects.get(pk=ann.pk).expiry_time > ann.expiry_time
    assert fake_zoho.counters["refresh"] == 1

    result = run_manage("zoho_tokens", "purge", "--invalid", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert f"would purge {bad.pk} (bob@example.com:700000001)" in result.stdout
    assert ZohoToken.objects.count() == 2

    url = fake_zoho.url
    fake_zoho.stop()
    result = run_manage("zoho_tokens", "revoke", ann.pk, "--yes", env=child_env(url))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "kept: cannot reach Zoho Accounts" in result.stderr
    assert result.stdout.splitlines()[-1] == "revoke: 0 revoked, 1 failed"
    assert ZohoToken.objects.filter(pk=ann.pk).exists()

    fresh = ZohoToken.objects.get(pk=ann.pk)
    assert_no_secret(result.stdout + result.stderr, *secrets_of(ann, bad, fresh))


def test_subprocess_database_not_migrated(tmp_path):
    env = child_env(None, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    for args in (("list",), ("refresh", "--all"), ("revoke", "1", "--yes"), ("purge", "--all")):
        result = run_manage("zoho_tokens", *args, env=env)
        assert result.returncode == 1, args
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            "database error (OperationalError): check DATABASE_URL and run "
            "'python manage.py migrate' if the zoho_tokens tables do not exist"
        ]
