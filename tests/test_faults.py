"""Production faults with real worker processes on real databases (issue 13).

Long-lived worker processes (``python -m tests.workers loop``: Celery-like, outside any
request cycle) call ``DjangoTokenStore().find_token`` in a loop while a fault happens:

- their own database connection is killed from outside (``pg_terminate_backend`` of the
  worker's backend pid, MariaDB ``KILL`` of its thread id: never anybody else's);
- a router sends reads to a ``replica`` alias (``tests/worker_settings.py``);
- the fake Zoho answers refreshes with 500, garbage, or too slowly;
- the worker holding the refresh lease is SIGKILLed.

The one-process versions are in ``test_faults_unit.py``; ``bench/bench_faults.py`` measures
the same faults with 8 workers. Workers use a small ``HTTP_TIMEOUT`` so that leases are short.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from tests.helpers import child_env, kill_connection, now_ms
from tests.workers import Workers, calls_in, errors_in, first_success_after
from zoho_tokens.models import ZohoToken

# xdist_group: under pytest-xdist the multi-process tests (8 workers, kills, timing bounds)
# run one at a time on one worker, so two herds never compete for the cores.
pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("multiprocess"),
]

USER = "faults@example.com:700000013"
HTTP_TIMEOUT = 2  # the lease is HTTP_TIMEOUT + 4 s
LOOP = ["loop", "--user", USER, "--interval", "0.02"]


def worker_env(fake_zoho, **extra: str) -> dict[str, str]:
    return child_env(
        fake_zoho.url,
        DJANGO_SETTINGS_MODULE="tests.worker_settings",
        ZOHO_TOKENS_HTTP_TIMEOUT=str(HTTP_TIMEOUT),
        ZOHO_TOKENS_LOG_LEVEL="CRITICAL",
        **extra,
    )


def no_failures(reports: list[dict]) -> None:
    assert sum(r["failed"] for r in reports) == 0, errors_in(reports)
    assert all(r["calls"] > 0 for r in reports), reports


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_worker_whose_connection_is_killed_keeps_working(fake_zoho, live_token, cmd_settings):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no server connection to kill (test_faults_unit covers it)")
    live_token(USER)
    with Workers(2, LOOP, worker_env(fake_zoho)) as pool:
        victim, bystander = pool.procs
        victim_id, bystander_id = pool.hello(victim)["db_id"], pool.hello(bystander)["db_id"]
        assert victim_id and bystander_id and victim_id != bystander_id
        for _ in range(2):  # the healed connection can be lost again
            pool.start_all()
            time.sleep(0.4)
            killed_at = time.time()
            kill_connection(victim_id)
            time.sleep(0.8)
            reports = pool.stop_all()
            no_failures(reports)
            assert calls_in(reports[:1], killed_at, time.time(), ok=True) > 5
            new_id = reports[0]["db_id"]
            assert new_id and new_id != victim_id  # the kill landed; the worker reconnected
            assert reports[1]["db_id"] == bystander_id  # nobody else's connection touched
            victim_id = new_id


def test_a_router_reading_from_a_replica_keeps_one_refresh_per_expiry(
    fake_zoho, live_token, cmd_settings
):
    row = live_token(USER)
    expiries = 2
    with Workers(4, LOOP, worker_env(fake_zoho, ZOHO_TOKENS_TEST_REPLICA="1")) as pool:
        pool.start_all()
        for n in range(1, expiries + 1):
            # Below the SDK's 5 s: every worker needs the new token, and only one may ask.
            ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
            wait_for(
                lambda: ZohoToken.objects.get(pk=row.pk).expiry_time > now_ms() + 600_000,
                HTTP_TIMEOUT + 10,
                "nobody refreshed the token",
            )
            time.sleep(0.3)  # the workers keep calling with the new token
            assert fake_zoho.counters["refresh"] == n
        reports = pool.stop_all()
    no_failures(reports)
    assert fake_zoho.counters["throttled"] == 0


@pytest.mark.parametrize("mode", ["500", "garbage", "slow"])
def test_zoho_failing_refreshes_are_bounded_while_the_token_is_valid(
    fake_zoho, live_token, cmd_settings, mode
):
    """500, garbage, or answers slower than HTTP_TIMEOUT: 5 s of 4 workers calling.

    Without the shared backoff every call inside the refresh window asked Zoho again (about
    50 requests a second); with it: one request, then none for 5 s (±20 %) - at most 2 here.
    """
    fake_zoho.slow_seconds = HTTP_TIMEOUT + 1.5
    with Workers(4, LOOP, worker_env(fake_zoho), timeout=180) as pool:
        # Once the workers are up (a loaded machine starts them slowly): in the 60 s window,
        # valid for 35 s more.
        row = live_token(USER, expires_in_ms=40_000)
        fake_zoho.fail_mode = mode
        before = fake_zoho.counters["requests"]
        pool.start_all()
        time.sleep(5)
        reports = pool.stop_all()
        asked = fake_zoho.counters["requests"] - before
        no_failures(reports)
        if mode == "slow":
            # Zoho answered after the callers' HTTP_TIMEOUT: the lease owner still stored the
            # token it issued (test_a_zoho_slower_than_the_timeout_costs_no_access_token).
            wait_for(
                lambda: ZohoToken.objects.get(pk=row.pk).access_token != row.access_token,
                10,
                "the late answer was not stored",
            )
        else:
            stored = ZohoToken.objects.get(pk=row.pk)
            assert stored.access_token == row.access_token  # nothing refreshed: Zoho failed
            # A backoff was recorded. Not "still running": one of 4-6 s may end just before
            # the stop, before any worker called again (a flake under load).
            assert stored.refresh_failures >= 1, stored.refresh_error
            assert stored.refresh_backoff_until is not None
    assert 1 <= asked <= 2, asked


@pytest.mark.parametrize("expired", [True, False], ids=["expired", "valid"])
def test_a_zoho_slower_than_the_timeout_costs_no_access_token(
    fake_zoho, live_token, cmd_settings, expired
):
    """Zoho answers refreshes 2 s after the callers' HTTP_TIMEOUT, 4 workers calling: one
    request, and the access token Zoho issued is the one stored (before: the caller gave
    up, the token was lost, and the next worker asked again and lost that one too). With
    the token still valid no call fails meanwhile."""
    fake_zoho.fail_mode, fake_zoho.slow_seconds = "slow", HTTP_TIMEOUT + 2
    with Workers(4, LOOP, worker_env(fake_zoho), timeout=180) as pool:
        row = live_token(USER, expires_in_ms=-1000 if expired else 30_000)
        issued = fake_zoho.counters["refresh_ok"]
        started = pool.start_all()
        wait_for(
            lambda: ZohoToken.objects.get(pk=row.pk).access_token != row.access_token,
            HTTP_TIMEOUT + 20,
            "the late answer was not stored",
        )
        stored_at = time.time()
        fake_zoho.fail_mode = None
        time.sleep(1.0)  # the workers go on calling with the stored token
        reports = pool.stop_all()
    stored = ZohoToken.objects.get(pk=row.pk)
    assert fake_zoho.counters["refresh_ok"] - issued == 1  # one access token issued ...
    assert fake_zoho.is_access_token_valid(stored.access_token)  # ... and it is the stored one
    assert stored.refresh_failures == 0 and stored.refresh_backoff_until is None
    assert stored.refresh_lease_owner == ""
    assert calls_in(reports, stored_at + 0.2, time.time(), ok=False) == 0, errors_in(reports)
    if not expired:
        assert calls_in(reports, started, time.time(), ok=False) == 0, errors_in(reports)


def _kill_the_lease_owner(fake_zoho, row, pool) -> float:
    """Start one worker; once it holds the lease (its refresh hangs at the fake), start the
    others and SIGKILL it. Zoho then answers normally. Returns the time of the kill."""
    owner, *others = pool.procs
    fake_zoho.fail_mode, fake_zoho.slow_seconds = "slow", 60
    pool.send(owner)
    wait_for(
        lambda: ZohoToken.objects.filter(pk=row.pk).exclude(refresh_lease_owner="").exists(),
        20,
        "the first worker never took the lease",
    )
    for proc in others:
        pool.send(proc)
    time.sleep(0.3)  # the others are calling (waiting, when the token has expired)
    os.kill(owner.pid, signal.SIGKILL)
    killed_at = time.time()
    owner.wait(timeout=10)
    fake_zoho.fail_mode = None
    return killed_at


def test_a_sigkilled_refresher_costs_at_most_the_lease(fake_zoho, live_token, cmd_settings):
    row = live_token(USER, expires_in_ms=-1000)
    with Workers(4, LOOP, worker_env(fake_zoho)) as pool:
        killed_at = _kill_the_lease_owner(fake_zoho, row, pool)
        wait_for(
            lambda: ZohoToken.objects.get(pk=row.pk).expiry_time > now_ms(),
            HTTP_TIMEOUT + 10,
            "nobody took over the dead worker's lease",
        )
        time.sleep(0.3)
        reports = pool.stop_all(pool.procs[1:])
    recovered = first_success_after(reports, killed_at)
    assert recovered is not None, errors_in(reports)
    assert recovered - killed_at <= HTTP_TIMEOUT + 5
    no_failures(reports)  # the waiters waited for the lease to run out, not less
    assert fake_zoho.counters["refresh"] == 1  # the dead worker's request never completed


def test_a_sigkilled_refresher_of_a_valid_token_fails_no_call(fake_zoho, live_token, cmd_settings):
    with Workers(3, LOOP, worker_env(fake_zoho), timeout=180) as pool:
        row = live_token(USER, expires_in_ms=30_000)  # once the workers are up
        killed_at = _kill_the_lease_owner(fake_zoho, row, pool)
        time.sleep(1.5)
        reports = pool.stop_all(pool.procs[1:])
    no_failures(reports)
    # Nobody waited: a call after the kill succeeded at once, not after the dead owner's
    # lease (HTTP_TIMEOUT + 4 s). Not "== killed_at": a new run of calls may start just then.
    recovered = first_success_after(reports, killed_at)
    assert recovered is not None, errors_in(reports)
    assert recovered - killed_at < 1.0


# -- issue 22 --------------------------------------------------------------------------------


def test_a_worker_whose_clock_is_a_minute_fast_costs_nothing(fake_zoho, live_token, cmd_settings):
    """One of 4 workers runs 60 s fast. It takes over no lease (refreshes = expiries), stores
    Zoho's expiry (within 2 s), writes a backoff of the usual length; correct workers never
    fail a call."""
    row = live_token(USER)
    env = worker_env(fake_zoho)
    with (
        Workers(3, LOOP, env, timeout=180) as pool,
        Workers(1, LOOP, {**env, "ZOHO_TOKENS_TEST_CLOCK_SKEW": "60"}, timeout=180) as fast,
    ):
        pool.start_all()
        fast.start_all()
        for n in range(1, 4):
            ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
            wait_for(
                lambda: ZohoToken.objects.get(pk=row.pk).expiry_time > now_ms() + 600_000,
                HTTP_TIMEOUT + 10,
                "nobody refreshed the token",
            )
            asked_at = now_ms()
            time.sleep(1.5)  # 60 s fast, the token would be in the fast worker's window
            assert fake_zoho.counters["refresh"] == n
            stored = ZohoToken.objects.get(pk=row.pk).expiry_time
            assert abs(stored - (asked_at + 3_600_000)) < 2_000
        reports = pool.stop_all()
        fast.stop_all()

        # The fast worker alone meets a Zoho outage: the backoff it writes is 5 s (± 20 %).
        fake_zoho.fail_mode = "500"
        ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 40_000)
        started = now_ms()
        fast.start_all()
        wait_for(
            lambda: ZohoToken.objects.get(pk=row.pk).refresh_backoff_until is not None,
            HTTP_TIMEOUT + 10,
            "the fast worker recorded no backoff",
        )
        fast.stop_all()
        backoff = ZohoToken.objects.get(pk=row.pk).refresh_backoff_until - started
        assert 4_000 - 500 <= backoff <= 6_000 + 500, backoff
    no_failures(reports)


def test_statement_timeout_fails_no_save_or_find_and_leaves_no_lease(
    fake_zoho, live_token, cmd_settings
):
    """A 50 ms ``statement_timeout`` for the workers' sessions (managed databases, PgBouncer):
    cancelled statements (57014) are retried, saves and finds do not fail, and no lease is
    left held once every call returned."""
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    env = worker_env(fake_zoho, ZOHO_TOKENS_TEST_STATEMENT_TIMEOUT="50")
    save_user = "saves@example.com:700000013"
    argv = ["save", "--user", save_user, "--access-token", "1000.a", "--refresh-token"]
    argv += ["1000.r", "--expires-in", str(now_ms() + 3_600_000)]
    with Workers(6, argv, env, timeout=180) as savers:
        saves = [answer for _ in range(8) for answer in savers.round()]
    assert [s["error"] for s in saves if not s["ok"]] == []
    row = live_token(USER)
    with Workers(4, LOOP, env, timeout=180) as pool:
        pool.start_all()
        for _ in range(3):
            ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
            wait_for(
                lambda: ZohoToken.objects.get(pk=row.pk).expiry_time > now_ms() + 600_000,
                HTTP_TIMEOUT + 10,
                "nobody refreshed the token",
            )
            time.sleep(0.3)
        reports = pool.stop_all()
    no_failures(reports)
    assert not ZohoToken.objects.exclude(refresh_lease_owner="").exists()


def test_a_sweep_survives_a_reset_and_failing_tenants(fake_zoho, cmd_settings):
    """``zoho_tokens refresh --expiring-within 600`` (a child process) over 200 tokens in 20
    tenants: one connection reset at the 18th request, and 10 % of the tenants failing (one
    with 500s, one with a client Zoho does not know). Every healthy token is refreshed, none
    with more than two requests; the failing ones are reported, and the exit code is 1.
    (``bench/bench_faults.py`` runs the same with 2,000 tokens in 200 tenants.)"""
    import subprocess
    import sys

    from tests.factories import ZohoTokenFactory
    from tests.helpers import ROOT, child_env

    rows = []
    for n in range(200):
        tenant = f"t{n % 20:02d}"
        row = ZohoTokenFactory.build(
            tenant=tenant,
            user_name=f"u{n}@example.com:7{n:05d}",
            expiry_time=now_ms() + 100_000 + (n * 7919) % 400_000,
            api_domain=fake_zoho.url,
        )
        email, _, zgid = (row.user_name or "").rpartition(":")
        fake_zoho.add_refresh_token(
            row.refresh_token,
            email=email,
            zgid=zgid,
            client_id=row.client_id,
            client_secret=row.client_secret,
        )
        row.save()
        rows.append(row)
    failing = {row.pk for row in rows if row.tenant in ("t00", "t11")}
    for row in rows:
        if row.pk in failing:
            fake_zoho.fail_refresh(
                row.refresh_token, "500" if row.tenant == "t00" else "invalid_client"
            )
    fake_zoho.reset_next(1, after=17)
    done = subprocess.run(
        [sys.executable, "manage.py", "zoho_tokens", "refresh", "--expiring-within", "600"],
        cwd=ROOT,
        env=child_env(fake_zoho.url),
        capture_output=True,
        text=True,
        timeout=600,  # a loaded CI machine; about 10 s on an idle one
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    healthy = [row for row in rows if row.pk not in failing]
    stored = {r.pk: r for r in ZohoToken.objects.all()}
    refreshed = [r for r in healthy if stored[r.pk].access_token != r.access_token]
    assert len(refreshed) == len(healthy) == 180, done.stdout[-2000:]
    assert max(fake_zoho.refreshes_of[r.refresh_token] for r in rows) <= 2
    # One request each, plus one for the reset (unless it hit a failing tenant's token).
    assert 180 <= sum(fake_zoho.refreshes_of[r.refresh_token] for r in healthy) <= 181
    assert done.stdout.splitlines()[-1] == "refresh: 180 refreshed, 20 failed, 0 skipped"


def test_a_refused_refresh_token_costs_two_requests_and_no_call(
    fake_zoho, live_token, cmd_settings
):
    """4 workers, a token in the refresh window with 25 s of use left. ``invalid_grant`` on
    every refresh: invalid after 2 requests (not 2 per worker), no call fails while usable.
    One transient ``invalid_code``: the row stays valid, refreshed."""
    env = worker_env(fake_zoho)
    with Workers(4, LOOP, env, timeout=180) as pool:
        row = live_token(USER, expires_in_ms=30_000)
        fake_zoho.fail_refresh(row.refresh_token, "invalid_grant")
        pool.start_all()
        wait_for(
            lambda: ZohoToken.objects.get(pk=row.pk).invalid_reason != "",
            HTTP_TIMEOUT + 10,
            "the row was never marked invalid",
        )
        time.sleep(1.0)
        reports = pool.stop_all()
        no_failures(reports)
        assert fake_zoho.refreshes_of[row.refresh_token] == 2
        assert ZohoToken.objects.get(pk=row.pk).invalid_reason == "invalid_grant"

        ZohoToken.objects.all().delete()
        row = live_token(USER, expires_in_ms=30_000)
        fake_zoho.script_refresh(row.refresh_token, "invalid_code")
        pool.start_all()
        wait_for(
            lambda: ZohoToken.objects.get(pk=row.pk).expiry_time > now_ms() + 600_000,
            HTTP_TIMEOUT + 10,
            "nobody refreshed the token",
        )
        time.sleep(0.5)
        reports = pool.stop_all()
    no_failures(reports)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.invalid_reason == "" and fake_zoho.refreshes_of[row.refresh_token] == 2
