"""Many OS processes, one token: the herd, concurrent saves, a read during a refresh.

Real processes (``python -m tests.workers``), each with its own database connection and SDK,
against the real fake Zoho over HTTP and the test database of the running backend. Workers
start together through a stdin barrier (see ``tests/workers.py``), not on a clock.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.factories import zoho_like
from tests.helpers import database_url_for_subprocess, now_ms
from tests.workers import Workers
from zoho_tokens.models import ZohoToken

# xdist_group: under pytest-xdist the multi-process tests (8 workers, kills, timing bounds)
# run one at a time on one worker, so two herds never compete for the cores.
pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("multiprocess"),
]

USER = "herd@example.com:700000077"


def worker_env(fake_zoho) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "ZOHO_ACCOUNTS_URL": fake_zoho.url,
        "ZOHO_API_DOMAIN": fake_zoho.url,
        "ZOHO_CLIENT_ID": "1000.HERDCLIENT",
        "ZOHO_CLIENT_SECRET": "herd-client-secret",
        "ZOHO_TOKENS_LOG_LEVEL": "ERROR",
        "SECRET_KEY": os.environ["SECRET_KEY"],  # the keys are derived from it (tests.settings)
    }


def no_lock_errors(results: list[dict]) -> None:
    assert not [r for r in results if "locked" in r.get("error", "")], results


def test_herd_one_refresh_per_expiry_and_no_failed_call(fake_zoho, live_token, sdk_resource_path):
    workers, rounds = 6, 2
    row = live_token(USER)
    argv = ["herd", "--user", USER, "--fake-url", fake_zoho.url]
    argv += ["--resource-path", sdk_resource_path, "--init-each-round"]
    results = []
    with Workers(workers, argv, worker_env(fake_zoho)) as pool:
        for n in range(1, rounds + 1):
            # The access token enters the refresh window (60 s), above the SDK's own 5 s.
            ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 30_000)
            answers = pool.round()
            results += answers
            assert fake_zoho.counters["refresh"] == n, answers
    no_lock_errors(results)
    assert [r for r in results if not r["ok"]] == []
    assert len(results) == workers * rounds
    assert fake_zoho.counters["throttled"] == 0
    final = ZohoToken.objects.get()
    assert final.pk == row.pk
    assert fake_zoho.is_access_token_valid(final.access_token)
    assert final.expiry_time > now_ms() + 3000_000


def test_concurrent_saves_of_one_user_leave_one_row(fake_zoho):
    workers = 8
    access_tokens = [zoho_like() for _ in range(workers)]
    refresh = zoho_like()
    pools = [
        Workers(
            1,
            ["save", "--user", USER, "--access-token", access, "--refresh-token", refresh]
            + ["--expires-in", str(now_ms() + 3600_000)],
            worker_env(fake_zoho),
        )
        for access in access_tokens
    ]
    try:
        for pool in pools:
            pool.__enter__()
        for pool in pools:
            pool.send(pool.procs[0])
        results = [pool.read(pool.procs[0]) for pool in pools]
    finally:
        for pool in pools:
            pool.__exit__(None, None, None)
    no_lock_errors(results)
    assert [r for r in results if not r["ok"]] == []
    row = ZohoToken.objects.get()
    assert row.user_name == USER
    assert row.access_token in access_tokens
    assert row.refresh_token == refresh


def _read_during_slow_refresh(fake_zoho, live_token, expires_in_ms: int):
    row = live_token(USER, expires_in_ms=expires_in_ms)
    fake_zoho.fail_mode, fake_zoho.slow_seconds = "slow", 1.5
    env = worker_env(fake_zoho)
    with Workers(2, ["find", "--user", USER], env) as pool:
        first, second = pool.procs
        pool.send(first)
        # Wait until the first process holds the refresh lease, i.e. its call to Zoho is
        # in flight, then let the second one read.
        deadline = time.monotonic() + 30
        while not ZohoToken.objects.filter(pk=row.pk).exclude(refresh_lease_owner="").exists():
            assert time.monotonic() < deadline, "the first worker never took the lease"
            time.sleep(0.01)
        assert fake_zoho.counters["refresh"] <= 1
        pool.send(second)
        b = pool.read(second)
        a = pool.read(first)
    assert a["ok"] and b["ok"], (a, b)
    old_checksum = row.access_token_checksum
    row.refresh_from_db()
    assert row.access_token_checksum != old_checksum
    assert a["access_checksum"] == row.access_token_checksum
    assert fake_zoho.counters["refresh"] == 1
    assert row.refresh_lease_owner == ""
    return old_checksum, row, b


def test_read_during_refresh_of_an_expired_token_waits_and_gets_the_new_token(
    fake_zoho, live_token
):
    _old, row, b = _read_during_slow_refresh(fake_zoho, live_token, expires_in_ms=-1000)
    assert b["access_checksum"] == row.access_token_checksum


def test_read_during_refresh_of_a_valid_token_does_not_wait(fake_zoho, live_token):
    """Inside the refresh window but still valid: the reader takes the current token now."""
    old, _row, b = _read_during_slow_refresh(fake_zoho, live_token, expires_in_ms=30_000)
    # Had it waited for the owner, it would hold the new token.
    assert b["access_checksum"] == old
