"""A connection's life: failing, dead and recovered are each announced once (issue 23).

A refresh token revoked at the fake Zoho sends ``token_refresh_failed`` then
``token_invalidated`` once, whatever the number of calls (here) and worker processes
(``test_eight_workers_...``: real processes, each logging the signals it sends to a file);
a reconnect or a successful refresh sends ``token_recovered``; each has its audit row.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import assert_no_secret, child_env, now_ms, secrets_of
from tests.workers import Workers
from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.store import DjangoTokenStore

EMAIL, ZGID = "life@example.com", "700000023"
USER = f"{EMAIL}:{ZGID}"


def reconnect(fake_zoho) -> ZohoToken:
    """The user connects again (a new grant exchanged, as the web flow's callback does)."""
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    return services.exchange_grant(code, accounts_url=fake_zoho.url, source=AuditSource.WEB)


def actions(row: ZohoToken) -> list[str]:
    events = TokenAuditEvent.objects.filter(token_id=row.pk).order_by("created_at", "id")
    return [e.action for e in events]


@pytest.mark.django_db
def test_a_revoked_refresh_token_fails_and_dies_once_then_a_reconnect_recovers(
    rec, django_capture_on_commit_callbacks, fake_zoho, live_token
):
    row = live_token(USER, expires_in_ms=2000)  # below the SDK's 5 s: every call needs one
    fake_zoho.revoke_all()
    store = DjangoTokenStore()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            with pytest.raises(TokenStoreError, match="invalid"):
                store.find_token_by_id(row.pk)
    assert rec.names() == ["token_refresh_failed", "token_invalidated"]
    assert fake_zoho.counters["refresh"] == 2  # asked once more before marking it (issue 22)
    failed, dead = rec.calls[0][1], rec.calls[1][1]
    assert failed["token"].pk == dead["token"].pk == row.pk
    assert (failed["reason"], failed["zoho_error"], failed["attempt"]) == (
        "refused",
        "invalid_code",
        1,
    )
    assert failed["backoff_until"] is None and failed["source"] == "sdk"
    assert (dead["reason"], dead["zoho_error"]) == ("refused", "invalid_code")
    assert_no_secret([rec.calls], *secrets_of(row), where="signal kwargs")

    with django_capture_on_commit_callbacks(execute=True):
        again = reconnect(fake_zoho)
    assert again.pk == row.pk and again.status() == "active"
    recovered = rec.one("token_recovered")
    assert (recovered["previous"], recovered["failures"], recovered["source"]) == (
        "invalid",
        1,
        "web",
    )
    assert recovered["token"].pk == row.pk
    assert actions(row)[-4:] == ["refresh_failed", "invalidated", "recovered", "grant_exchanged"]
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert (fresh.invalid_reason, fresh.refresh_failures) == ("", 0)

    with django_capture_on_commit_callbacks(execute=True):
        reconnect(fake_zoho)  # a healthy connection connecting again recovers nothing
    assert rec.names().count("token_recovered") == 1


@pytest.mark.django_db
def test_failing_refreshes_count_attempts_and_one_success_recovers(
    rec, django_capture_on_commit_callbacks, fake_zoho, live_token
):
    row = live_token(USER, expires_in_ms=2000)
    store = DjangoTokenStore()
    fake_zoho.fail_mode = "500"
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            for _ in range(3):  # the later calls are held back: no request, no signal
                with pytest.raises(TokenStoreError):
                    store.find_token_by_id(row.pk)
            ZohoToken.objects.filter(pk=row.pk).update(refresh_backoff_until=None)
    failures = [kw for name, kw in rec.calls if name == "token_refresh_failed"]
    assert [kw["attempt"] for kw in failures] == [1, 2]
    assert {kw["reason"] for kw in failures} == {"unexpected"}  # HTTP 500 without JSON
    assert all(kw["backoff_until"] > now_ms() - 60_000 for kw in failures)
    assert "token_invalidated" not in rec.names()

    fake_zoho.fail_mode = None
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert store.find_token_by_id(row.pk) is not None
    assert rec.names()[2:] == ["token_recovered", "token_saved", "token_refreshed"]
    recovered = rec.one("token_recovered")
    assert (recovered["previous"], recovered["failures"]) == ("failing", 2)
    assert actions(row)[-4:] == ["refresh_failed", "refresh_failed", "recovered", "refreshed"]
    assert ZohoToken.objects.get(pk=row.pk).refresh_failures == 0


@pytest.mark.multiprocess
@pytest.mark.django_db(transaction=True)
def test_eight_workers_announce_a_revoked_token_once(
    rec, fake_zoho, live_token, cmd_settings, tmp_path
):
    log = tmp_path / "signals.jsonl"
    env = child_env(
        fake_zoho.url,
        DJANGO_SETTINGS_MODULE="tests.worker_settings",
        ZOHO_TOKENS_HTTP_TIMEOUT="2",
        ZOHO_TOKENS_LOG_LEVEL="CRITICAL",
        ZOHO_TOKENS_TEST_SIGNAL_LOG=str(log),
    )
    row = live_token(USER)
    with Workers(8, ["loop", "--user", USER, "--interval", "0.01"], env, timeout=180) as pool:
        pool.start_all()
        time.sleep(0.3)
        fake_zoho.revoke_all()
        ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
        deadline = time.monotonic() + 15
        while not ZohoToken.objects.get(pk=row.pk).invalid_reason:
            assert time.monotonic() < deadline, "nobody found the token revoked"
            time.sleep(0.02)
        time.sleep(1.0)  # every worker keeps calling the dead connection
        reports = pool.stop_all()
    assert sum(r["failed"] for r in reports) > 8  # they did call, and failed
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["signal"] for s in sent] == ["token_refresh_failed", "token_invalidated"]
    assert {s["token_id"] for s in sent} == {row.pk} and sent[0]["attempt"] == 1
    assert fake_zoho.counters["refresh"] == 2  # one refusal, asked once more in the lease
    assert [a for a in actions(row) if a in ("refresh_failed", "invalidated")] == [
        "refresh_failed",
        "invalidated",
    ]

    reconnect(fake_zoho)
    assert rec.one("token_recovered")["previous"] == "invalid"
