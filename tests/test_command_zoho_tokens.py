"""``manage.py zoho_tokens list|refresh|revoke|purge`` against the fake Zoho over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.helpers import (
    TTY,
    assert_no_secret,
    child_env,
    run_command,
    run_manage,
    secrets_of,
)
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.services import refreshes

pytestmark = pytest.mark.usefixtures("cmd_settings")


def zt(*args: str) -> tuple[int, str, str]:
    """Run ``zoho_tokens`` in process: (exit code, stdout, stderr)."""
    return run_command("zoho_tokens", *args)


# -- list ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_table_shows_status_and_expiry_masked(fake_zoho, live_token):
    active = live_token("ann@example.com:700000001")
    expiring = live_token("bob@example.com:700000001", expires_in_ms=100_000)
    expired = live_token("cat@example.com:700000001", expires_in_ms=-120_000)
    invalid = live_token("dan@example.com:700000001", tenant="acme", invalid_reason="invalid_code")

    code, out, err = zt("list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "USER", "NAME"]
    by_id = {line.split()[0]: line for line in lines[1:-1]}
    # Relative times are Django's timeuntil/timesince, with plain spaces in a terminal.
    assert "active" in by_id[active.pk] and "(in 59 minutes)" in by_id[active.pk]
    assert "expiring" in by_id[expiring.pk]
    assert "expired" in by_id[expired.pk] and "(2 minutes ago)" in by_id[expired.pk]
    assert "invalid (invalid_code)" in by_id[invalid.pk] and " acme " in by_id[invalid.pk]
    assert fake_zoho.url in by_id[active.pk]
    assert lines[-1] == "4 tokens (1 active, 1 expired, 1 expiring, 1 invalid)"
    assert_no_secret(out, *secrets_of(active, expiring, expired, invalid))


@pytest.mark.django_db
def test_list_json_and_tenant_filter(live_token):
    live_token("ann@example.com:700000001")
    acme = live_token("bob@example.com:700000001", tenant="acme")
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
def test_refresh_by_id_gets_a_new_access_token(fake_zoho, live_token):
    row = live_token("ann@example.com:700000001", expires_in_ms=600_000)
    other = live_token("bob@example.com:700000001", expires_in_ms=600_000)
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
def test_refresh_expiring_within_picks_only_those(fake_zoho, live_token):
    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    later = live_token("bob@example.com:700000001", expires_in_ms=3_000_000)
    code, out, _ = zt("refresh", "--expiring-within", "300")
    assert code == 0
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time
    assert ZohoToken.objects.get(pk=later.pk).expiry_time == later.expiry_time
    assert fake_zoho.counters["refresh"] == 1
    assert out.splitlines()[-1] == "refresh: 1 refreshed, 0 failed, 0 skipped"


@pytest.mark.django_db
def test_refresh_fails_on_every_sweep_while_a_selected_token_is_invalid(fake_zoho, live_token):
    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    bad = live_token(
        "cat@example.com:700000001", expires_in_ms=60_000, invalid_reason="invalid_code"
    )
    for _ in range(2):
        code, out, err = zt("refresh", "--expiring-within", "300")
        assert code == 1
        assert f"{bad.pk} (cat@example.com:700000001): invalid: " in err
        assert "connect this user again" in err
        assert out.splitlines()[-1].startswith("refresh: ")
        assert "1 invalid (reconnect them with zoho_login or 'purge --invalid')" in out
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time
    assert fake_zoho.counters["refresh"] == 1  # the invalid one never goes to Zoho


@pytest.mark.django_db
def test_refresh_holds_back_only_the_throttled_token(fake_zoho, live_token):
    rows = [
        live_token(f"u{i}@example.com:700000001", expires_in_ms=(120 + i) * 1000) for i in range(3)
    ]
    fake_zoho.set_refresh_limit(0)  # Zoho answers "Access Denied" to every refresh token
    code, out, err = zt("refresh", "--all")
    assert code == 1
    assert (fake_zoho.counters["refresh"], fake_zoho.counters["throttled"]) == (3, 3)
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).access_token == row.access_token
        assert f"{row.pk} (u{rows.index(row)}@example.com:700000001): throttled: " in err
    assert "Access Denied" in err and "the current one expires" in err
    assert out.splitlines()[-1] == "refresh: 0 refreshed, 0 failed, 0 skipped, 3 throttled"

    fake_zoho.set_refresh_limit(10)
    fake_zoho.reset_counters()
    code, out, err = zt("refresh", "--all")  # still held back: Zoho is not asked again
    assert code == 1 and fake_zoho.counters["requests"] == 0


@pytest.mark.django_db
def test_refresh_goes_on_after_a_rejected_refresh_token(fake_zoho, live_token):
    gone = live_token("ann@example.com:700000001", expires_in_ms=100_000)
    fine = live_token("bob@example.com:700000001", expires_in_ms=200_000)
    fake_zoho.revoke_all()
    fake_zoho.add_refresh_token(fine.refresh_token, email="bob@example.com")  # valid again
    code, out, err = zt("refresh", "--all")
    assert code == 1
    assert ZohoToken.objects.get(pk=gone.pk).invalid_reason == "invalid_code"
    assert ZohoToken.objects.get(pk=fine.pk).expiry_time > fine.expiry_time
    assert "invalid_code" in err and "connect this user again" in err
    assert out.splitlines()[-1] == (
        "refresh: 1 refreshed, 0 failed, 0 skipped, "
        "1 invalid (reconnect them with zoho_login or 'purge --invalid')"
    )


@pytest.mark.django_db
def test_refresh_holds_back_an_accounts_server_only_after_several_failures(
    fake_zoho, live_token, monkeypatch
):
    """Each token is asked twice; after 3 tokens in a row failed the server is held back, and
    probed once at the end of the sweep (with one more token): still down, the rest is
    skipped and the report says why."""
    monkeypatch.setattr(refreshes, "RETRY_PAUSE_SECONDS", 0.01)
    rows = [
        live_token(f"u{n}@example.com:700000001", expires_in_ms=100_000 + n * 1000)
        for n in range(6)
    ]
    url = fake_zoho.url
    fake_zoho.stop()
    code, out, err = zt("refresh", "--all")
    assert code == 1
    for row in rows[:4]:  # three, then the probe
        assert f"{row.pk} ({row.user_name}): failed: refresh of Zoho token" in err
    assert "cannot reach Zoho Accounts" in err and "(asked twice)" in err
    for row in rows[4:]:
        assert (
            f"{row.pk} ({row.user_name}): skipped: accounts server 127.0.0.1:" in err
            and "failed for 3 tokens in a row (last: network), and again when probed" in err
        )
    assert out.splitlines()[-1] == (
        f"refresh: 0 refreshed, 4 failed, 2 skipped; accounts server unreachable: {url}, "
        "try again later"
    )


@pytest.mark.django_db
def test_one_failed_request_costs_a_sweep_nothing(fake_zoho, live_token, monkeypatch):
    """A reset connection and a 500 are asked once more: every token refreshed, each with at
    most 2 requests, and a token whose refresh fails for good fails alone."""
    monkeypatch.setattr(refreshes, "RETRY_PAUSE_SECONDS", 0.01)
    rows = [
        live_token(f"u{n}@example.com:700000001", expires_in_ms=100_000 + n * 1000)
        for n in range(8)
    ]
    fake_zoho.reset_next(1)
    fake_zoho.script_refresh(rows[2].refresh_token, "500")
    for row in rows[3:6]:  # three in a row failing for good: the others still go on
        fake_zoho.fail_refresh(row.refresh_token, "500")
    code, out, _ = zt("refresh", "--all")
    assert code == 1
    assert out.splitlines()[-1] == "refresh: 5 refreshed, 3 failed, 0 skipped"
    assert max(fake_zoho.refreshes_of[row.refresh_token] for row in rows) == 2
    assert fake_zoho.refreshes_of[rows[7].refresh_token] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing selected: give token ids, --all, or --expiring-within SECONDS"),
        (("1", "--all"), "give token ids or --all, not both"),
        (("--expiring-within", "-1"), "--expiring-within must be 0 or more seconds"),
    ],
)
def test_refresh_refuses_unclear_selection(fake_zoho, live_token, args, message):
    live_token("ann@example.com:700000001")
    code, _, err = zt("refresh", *args)
    assert (code, err.strip()) == (1, message)
    assert fake_zoho.counters["requests"] == 0


@pytest.mark.django_db
def test_refresh_unknown_id_fails():
    code, out, err = zt("refresh", "404")
    assert code == 1
    assert err.strip() == "404: no such token"
    assert out.strip() == "refresh: 0 refreshed, 1 failed, 0 skipped"


# -- revoke -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_at_zoho_then_delete(fake_zoho, live_token):
    row = live_token("ann@example.com:700000001")
    keep = live_token("bob@example.com:700000001")
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
def test_revoke_during_zoho_outage_keeps_the_row(fake_zoho, live_token):
    row = live_token("ann@example.com:700000001")
    fake_zoho.stop()
    code, out, err = zt("revoke", row.pk, "404", "--yes")
    assert code == 1
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert f"{row.pk} (ann@example.com:700000001): kept: cannot reach Zoho Accounts" in err
    assert "404: no such token" in err
    assert out.splitlines()[-1] == "revoke: 0 revoked, 2 failed"
    assert TokenAuditEvent.objects.get(action="revoke_failed").source == "command"


@pytest.mark.django_db
def test_revoke_without_terminal_needs_yes(fake_zoho, live_token):
    row = live_token("ann@example.com:700000001")
    code, _, err = zt("revoke", row.pk)
    assert code == 1
    assert "pass --yes" in err
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert fake_zoho.counters["revoke"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("answer", "revoked"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_revoke_asks_on_a_terminal(fake_zoho, live_token, monkeypatch, answer, revoked):
    row = live_token("ann@example.com:700000001")
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
def test_purge_refuses(live_token, args, message):
    live_token("ann@example.com:700000001", invalid_reason="invalid_code")
    code, _, err = zt("purge", *args)
    assert code == 1
    assert message in err
    assert ZohoToken.objects.count() == 1


@pytest.mark.django_db
def test_purge_dry_run_changes_nothing(fake_zoho, live_token):
    bad = live_token("ann@example.com:700000001", invalid_reason="invalid_code")
    live_token("bob@example.com:700000001")
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
def test_purge_by_criteria(fake_zoho, live_token):
    bad = live_token("ann@example.com:700000001", invalid_reason="invalid_code")
    old_bad = live_token("bob@example.com:700000001", invalid_reason="invalid_code")
    old_good = live_token("cat@example.com:700000001")
    acme = live_token("dan@example.com:700000001", tenant="acme")
    long_ago = timezone.now() - dt.timedelta(days=40)
    ZohoToken.objects.filter(pk__in=[old_bad.pk, old_good.pk]).update(updated_at=long_ago)

    code, out, _ = zt("purge", "--invalid", "--older-than", "30", "--yes")  # AND
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    assert set(ZohoToken.objects.values_list("pk", flat=True)) == {bad.pk, old_good.pk, acme.pk}

    code, out, _ = zt("purge", "--all", "--tenant", "acme", "--yes")
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    event = TokenAuditEvent.objects.filter(action="purged").latest("id")
    assert (event.source, event.tenant, event.token_id) == ("command", "acme", acme.pk)

    code, out, _ = zt("purge", "--invalid", "--yes")
    assert (code, out.strip()) == (0, "purge: 1 deleted")
    assert list(ZohoToken.objects.values_list("pk", flat=True)) == [old_good.pk]
    assert fake_zoho.counters["requests"] == 0  # local only

    code, out, _ = zt("purge", "--invalid", "--yes")
    assert (code, out.strip()) == (0, "purge: 0 tokens matched, nothing deleted")


@pytest.mark.django_db
def test_purge_asks_on_a_terminal(live_token, monkeypatch):
    live_token("ann@example.com:700000001")
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
def test_subprocess_list_refresh_revoke_outage_and_dry_run(fake_zoho, live_token):
    ann = live_token("ann@example.com:700000001", expires_in_ms=100_000)
    bad = live_token("bob@example.com:700000001", invalid_reason="invalid_code")
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
            "database error: OperationalError (driver code SQLITE_ERROR); check DATABASE_URL and run "
            "'python manage.py migrate' if the zoho_tokens tables do not exist"
        ]


def test_an_import_error_inside_a_subcommand_surfaces_as_itself(tmp_path, monkeypatch):
    """A subcommand that needs a package that is not installed says so; it is not reported
    as "no such subcommand" (nor does it hide the other subcommands)."""
    import zoho_tokens.management.subcommands as package
    from zoho_tokens.management.commands import zoho_tokens as command

    (tmp_path / "needs_extra.py").write_text("import zoho_tokens_missing_extra_dependency\n")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    monkeypatch.setitem(command.SUBCOMMANDS, "needs-extra", "needs_extra")
    monkeypatch.delitem(sys.modules, f"{command.PACKAGE}.needs_extra", raising=False)

    with pytest.raises(ModuleNotFoundError) as missing:
        call_command("zoho_tokens", "list")
    assert missing.value.name == "zoho_tokens_missing_extra_dependency"


def test_an_unknown_subcommand_is_refused_by_name():
    with pytest.raises(CommandError, match="invalid choice: 'lsit'"):
        call_command("zoho_tokens", "lsit")


@pytest.mark.django_db
def test_all_schemas_without_django_tenants_is_one_line():
    with pytest.raises(CommandError, match=r"^--all-schemas needs django-tenants"):
        call_command("zoho_tokens", "--all-schemas", "list")
