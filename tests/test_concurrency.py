"""Many OS processes, one token: the herd, concurrent saves, a read during a refresh.

Real processes (``python -m tests.workers``), each with its own database connection and SDK,
against the real fake Zoho over HTTP and the test database of the running backend. Workers
start together through a stdin barrier (see ``tests/workers.py``), not on a clock.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import database_url_for_subprocess
from tests.factories import ZohoTokenFactory, zoho_like
from tests.workers import Workers
from zoho_tokens.models import ZohoToken

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

USER = "herd@example.com:700000077"


def child_env(fake_zoho) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "ZOHO_ACCOUNTS_URL": fake_zoho.url,
        "ZOHO_API_DOMAIN": fake_zoho.url,
        "ZOHO_CLIENT_ID": "1000.HERDCLIENT",
        "ZOHO_CLIENT_SECRET": "herd-client-secret",
        "ZOHO_TOKENS_LOG_LEVEL": "ERROR",
    }


def now_ms() -> int:
    return int(time.time() * 1000)


def seed(fake_zoho, expires_in_ms: int = 3600_000) -> ZohoToken:
    refresh = fake_zoho.add_refresh_token(email="herd@example.com", zgid="700000077")
    return ZohoTokenFactory(
        user_name=USER,
        refresh_token=refresh,
        access_token=fake_zoho.issue_access_token(refresh),
        api_domain=fake_zoho.url,
        expiry_time=now_ms() + expires_in_ms,
    )


def no_lock_errors(results: list[dict]) -> None:
    assert not [r for r in results if "locked" in r.get("error", "")], results


def test_herd_one_refresh_per_expiry_and_no_failed_call(fake_zoho, sdk_resource_path):
    workers, rounds = 6, 2
    row = seed(fake_zoho)
    argv = ["herd", "--user", USER, "--fake-url", fake_zoho.url]
    argv += ["--resource-path", sdk_resource_path, "--init-each-round"]
    results = []
    with Workers(workers, argv, child_env(fake_zoho)) as pool:
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
            child_env(fake_zoho),
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


def test_read_during_refresh_waits_and_gets_the_new_token(fake_zoho):
    row = seed(fake_zoho, expires_in_ms=30_000)  # inside the refresh window
    old_checksum = row.access_token_checksum
    fake_zoho.fail_mode, fake_zoho.slow_seconds = "slow", 1.5
    env = child_env(fake_zoho)
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
        a, b = pool.read(first), pool.read(second)
    assert a["ok"] and b["ok"], (a, b)
    row.refresh_from_db()
    assert row.access_token_checksum != old_checksum
    assert a["access_checksum"] == b["access_checksum"] == row.access_token_checksum
    assert fake_zoho.counters["refresh"] == 1
    assert row.refresh_lease_owner == ""
