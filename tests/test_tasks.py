"""``zoho_tokens.tasks``: the refresh API for schedulers, against the fake Zoho over HTTP.

A sweep goes on past one token's failure: it holds back only the tokens Zoho throttled
("Access Denied" is per refresh token), and stops early only for the tokens of an accounts
server that cannot be reached; local failures (a token no key decrypts) never stop it.
Invalid tokens are reported on every sweep, so a scheduler keeps saying something is wrong.
"""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from tests.helpers import KEY, assert_no_secret, secrets_of
from zoho_tokens import oauth_client, services, tasks
from zoho_tokens.context import AuditSource
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.services import Status, refreshes
from zoho_tokens.testing import FakeZoho

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cmd_settings")]


def statuses(report: services.Report) -> dict[str, str]:
    return {o.token_id: o.status for o in report.outcomes}


def use_up_quota(fake: FakeZoho, row: ZohoToken) -> None:
    """Zoho issues the token's whole quota elsewhere: its next refresh is "Access Denied"."""
    for _ in range(fake.refresh_limit):
        oauth_client.refresh(
            fake.url,
            refresh_token=row.refresh_token,
            client_id=row.client_id,
            client_secret=row.client_secret,
        )


def test_refresh_expiring_refreshes_only_what_expires_soon(fake_zoho, live_token, capsys):
    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    later = live_token("bob@example.com:700000001", expires_in_ms=3_000_000)

    report = tasks.refresh_expiring(within=600)

    assert report.ok
    assert statuses(report) == {soon.pk: Status.REFRESHED}
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time
    assert ZohoToken.objects.get(pk=later.pk).expiry_time == later.expiry_time
    assert fake_zoho.counters["refresh"] == 1
    assert TokenAuditEvent.objects.filter(action="refreshed", source=AuditSource.TASK).count() == 1
    assert capsys.readouterr() == ("", "")  # a task never prints


def test_one_throttled_token_does_not_stop_the_others(fake_zoho, live_token):
    rows = [
        live_token(f"u{i}@example.com:700000001", expires_in_ms=(120 + i) * 1000) for i in range(3)
    ]
    fake_zoho.set_refresh_limit(2)
    use_up_quota(fake_zoho, rows[0])  # the first one tried is the throttled one
    fake_zoho.reset_counters()

    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {
        rows[0].pk: Status.THROTTLED,
        rows[1].pk: Status.REFRESHED,
        rows[2].pk: Status.REFRESHED,
    }
    assert not report.ok
    assert (fake_zoho.counters["refresh"], fake_zoho.counters["throttled"]) == (3, 1)
    assert ZohoToken.objects.get(pk=rows[0].pk).access_token == rows[0].access_token
    throttled = report.outcomes[0]
    assert "Access Denied" in throttled.message and not throttled.ok

    # The next sweep holds the throttled token back without asking Zoho again.
    fake_zoho.reset_counters()
    again = tasks.refresh_expiring(within=600)
    assert statuses(again) == {rows[0].pk: Status.THROTTLED}
    assert fake_zoho.counters["requests"] == 0


def test_a_token_no_key_decrypts_does_not_stop_the_others(fake_zoho, live_token, cmd_settings):
    cmd_settings["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    lost = live_token("ann@example.com:700000001", expires_in_ms=60_000)
    cmd_settings["ENCRYPTION_KEYS"] = [KEY]  # the key that wrote ``lost`` is gone
    fine = live_token("bob@example.com:700000001", expires_in_ms=120_000)

    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {
        lost.pk: Status.UNREADABLE,
        fine.pk: Status.REFRESHED,
    }
    assert not report.ok
    assert "ENCRYPTION_KEYS" in report.outcomes[0].message
    assert fake_zoho.counters["refresh"] == 1  # only the readable one went to Zoho
    stored = ZohoToken.objects.get(pk=lost.pk)
    assert stored.refresh_lease_until is None  # the lease was given back
    assert_no_secret(json.dumps(report.as_dict()), *secrets_of(fine))


def test_an_unreachable_accounts_server_stops_only_its_own_tokens(
    fake_zoho, eu, live_token, monkeypatch
):
    """Each token of the unreachable server is asked twice; after 3 in a row the server is
    held back, probed once at the end of the sweep, and the rest is skipped, saying why."""
    monkeypatch.setattr(refreshes, "RETRY_PAUSE_SECONDS", 0.01)
    at_eu = [
        live_token(f"eu{i}@example.eu:900000001", expires_in_ms=(60 + 20 * i) * 1000)
        for i in range(5)
    ]
    ZohoToken.objects.filter(pk__in=[r.pk for r in at_eu]).update(accounts_server=eu.url)
    at_home = [
        live_token(f"us{i}@example.com:700000001", expires_in_ms=(70 + 20 * i) * 1000)
        for i in range(2)
    ]
    eu_url = eu.url
    eu.stop()  # connection refused

    report = tasks.refresh_expiring(within=600)

    got = statuses(report)
    assert [got[r.pk] for r in at_eu[:4]] == [Status.FAILED] * 4  # 3, then the probe
    assert "cannot reach Zoho Accounts" in report.outcomes[0].message
    assert got[at_eu[4].pk] == Status.SKIPPED
    assert [got[r.pk] for r in at_home] == [Status.REFRESHED] * 2
    assert fake_zoho.counters["refresh_ok"] == 2
    skipped = [o for o in report.outcomes if o.status == Status.SKIPPED]
    assert all("failed for 3 tokens in a row (last: network)" in o.message for o in skipped)
    assert report.unreachable == [eu_url]
    assert not report.ok
    # Tokens kept their access tokens; nothing was marked invalid.
    assert not ZohoToken.objects.exclude(invalid_reason="").exists()


def test_a_timed_out_accounts_server_stops_only_its_own_tokens(
    fake_zoho, eu, live_token, cmd_settings, monkeypatch
):
    monkeypatch.setattr(refreshes, "RETRY_PAUSE_SECONDS", 0.01)
    monkeypatch.setattr(refreshes, "HOLD_BACK_AFTER", 1)
    cmd_settings["HTTP_TIMEOUT"] = 1
    eu.fail_mode, eu.slow_seconds = "slow", 3
    at_eu = [live_token(f"eu{i}@example.eu:900000001", expires_in_ms=60_000 + i) for i in range(2)]
    ZohoToken.objects.filter(pk__in=[r.pk for r in at_eu]).update(accounts_server=eu.url)
    home = live_token("us@example.com:700000001", expires_in_ms=90_000)

    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {
        at_eu[0].pk: Status.FAILED,
        at_eu[1].pk: Status.FAILED,  # the probe at the end
        home.pk: Status.REFRESHED,
    }
    assert eu.counters["requests"] == 4  # each asked twice, not once per call of a worker
    assert "did not answer" in report.outcomes[0].message


def test_other_zoho_errors_fail_one_token_and_the_sweep_goes_on(fake_zoho, live_token):
    broken = live_token("ann@example.com:700000001", expires_in_ms=60_000)
    fine = live_token("bob@example.com:700000001", expires_in_ms=90_000)
    ZohoToken.objects.filter(pk=broken.pk).update(client_id="1000.NOT-THIS-ONE")

    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {broken.pk: Status.FAILED, fine.pk: Status.REFRESHED}
    assert "invalid_client" in report.outcomes[0].message


def test_invalid_tokens_are_reported_on_every_sweep(fake_zoho, live_token):
    gone = live_token("ann@example.com:700000001", expires_in_ms=60_000)
    fine = live_token("bob@example.com:700000001", expires_in_ms=90_000)
    fake_zoho.revoke_all()
    fake_zoho.add_refresh_token(fine.refresh_token, email="bob@example.com")

    first = tasks.refresh_expiring(within=600)
    assert statuses(first) == {gone.pk: Status.INVALID, fine.pk: Status.REFRESHED}
    assert not first.ok
    assert ZohoToken.objects.get(pk=gone.pk).invalid_reason == "invalid_code"

    fake_zoho.reset_counters()
    for _ in range(2):
        later = tasks.refresh_expiring(within=600)
        assert statuses(later) == {gone.pk: Status.INVALID}
        assert not later.ok
        assert "connect this user again" in later.outcomes[0].message
    assert fake_zoho.counters["requests"] == 0  # an invalid token is never sent to Zoho


def test_a_token_refreshed_meanwhile_is_not_due(fake_zoho, live_token, monkeypatch):
    row = live_token("ann@example.com:700000001", expires_in_ms=60_000)
    select = services.select_for_refresh

    def selected_then_refreshed_elsewhere(*args, **kwargs):
        found = list(select(*args, **kwargs))
        services.refresh_now(
            ZohoToken.objects.get(pk=row.pk), source=AuditSource.SDK
        )  # another worker
        return found

    monkeypatch.setattr(refreshes, "select_for_refresh", selected_then_refreshed_elsewhere)
    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {row.pk: Status.NOT_DUE}
    assert report.ok
    assert fake_zoho.counters["refresh"] == 1  # the other worker's, not a second one


def test_tenant_and_refresh_all(fake_zoho, live_token):
    acme = live_token("ann@example.com:700000001", tenant="acme", expires_in_ms=3_000_000)
    other = live_token("bob@example.com:700000001", expires_in_ms=3_000_000)

    assert tasks.refresh_expiring(within=600, tenant="acme").outcomes == []
    report = tasks.refresh_all(tenant="acme")
    assert statuses(report) == {acme.pk: Status.REFRESHED}
    assert ZohoToken.objects.get(pk=other.pk).expiry_time == other.expiry_time


def test_as_dict_round_trips_through_json_without_secrets(fake_zoho, live_token):
    ok = live_token("ann@example.com:700000001", expires_in_ms=60_000)
    bad = live_token("bob@example.com:700000001", expires_in_ms=90_000, invalid_reason="x")

    report = tasks.refresh_expiring(within=600)
    data = report.as_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is False
    assert data["counts"] == {"refreshed": 1, "invalid": 1}
    first, second = data["outcomes"]
    assert (first["token_id"], first["status"]) == (ok.pk, "refreshed")
    assert (second["token_id"], second["status"]) == (bad.pk, "invalid")
    assert first["user_name"] == "ann@example.com:700000001"
    assert isinstance(first["expiry_time"], int)
    assert_no_secret(json.dumps(data), *secrets_of(ok, bad, ZohoToken.objects.get(pk=ok.pk)))


def test_the_task_raises_no_system_exit_and_prints_nothing(fake_zoho, live_token, capsys):
    live_token("ann@example.com:700000001", expires_in_ms=60_000, invalid_reason="invalid_code")
    live_token("bob@example.com:700000001", expires_in_ms=60_000, registered=False)
    fake_zoho.stop()

    report = tasks.refresh_expiring()

    assert not report.ok
    assert capsys.readouterr() == ("", "")


def test_a_token_without_refresh_token_fails_alone(fake_zoho, live_token):
    bare = live_token("ann@example.com:700000001", expires_in_ms=60_000, registered=False)
    ZohoToken.objects.filter(pk=bare.pk).update(refresh_token="")
    fine = live_token("bob@example.com:700000001", expires_in_ms=90_000)

    report = tasks.refresh_expiring(within=600)

    assert statuses(report) == {bare.pk: Status.FAILED, fine.pk: Status.REFRESHED}
    assert "no refresh token" in report.outcomes[0].message
