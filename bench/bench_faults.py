"""Production faults with 8 long-lived workers: failed calls, Zoho requests, recovery time.

    .venv/bin/python bench/bench_faults.py                    # SQLite, PostgreSQL and MariaDB
    .venv/bin/python bench/bench_faults.py --backend postgres --quick

W worker processes (``python -m tests.workers loop``: Celery-like, outside any request cycle,
nobody calls ``close_old_connections``) call ``DjangoTokenStore().find_token`` by user name
every ``--interval`` seconds against a fake Zoho in this process (real HTTP). A call fails
when it raises or hands out an expired access token. Per fault:

1. ``db_restart``: every connection of the workers is killed again and again for ``--down``
   seconds (PostgreSQL ``pg_terminate_backend`` by the workers' ``application_name``; MariaDB
   ``KILL`` of every connection to the bench's own database but this script's; SQLite: each
   worker's sqlite3 handle is closed under Django, SIGUSR1). The shared servers are never
   restarted: other people use them. Target: 0 failed calls after the last kill.
2. ``replica``: a router sends reads to a ``replica`` alias (the same database); the token is
   set to expire in 2 s, ``--expiries`` times. Target: one refresh per expiry, 0 failed calls.
3. ``zoho_500``: Zoho answers 500 to every refresh for ``--outage`` seconds; the token enters
   the 60 s refresh window valid for 45 s (so it expires during the outage). Target: at most
   12 refresh requests in 60 s, 0 failed calls while the token is valid for more than 5 s.
4. ``sigkill``: the worker holding the refresh lease is SIGKILLed mid-refresh (its request
   hangs at the fake), with the token expired, then with the token still valid. Targets: the
   next success within ``HTTP_TIMEOUT`` + 5 s; 0 failed calls when the token was valid.

Databases (their names must contain ``bench``; the token table is emptied):
``--pg postgres://postgres@127.0.0.1:5432/wt_faults_bench`` and
``--mysql mysql://root@127.0.0.1:3306/wt_faults_bench``, created when missing; SQLite is a temp
file. Each backend runs in a child process of this script (one Django setup per database).
Results are merged into ``bench/results-faults.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results-faults.json"
USER = "faults@example.com:700000013"
APP_NAME = "zoho_tokens_bench_faults"
BACKENDS = ("sqlite", "postgres", "mariadb")
NEW_FAULTS = ("clock_skew", "sweep_reset", "statement_timeout", "zoho_answers", "slow_zoho")

from tests.workers import Workers, calls_in, errors_in, first_success_after  # noqa: E402


def now_ms() -> int:
    return int(time.time() * 1000)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- databases ---------------------------------------------------------------------------------


def create_database(url: str) -> None:
    """Create the scratch database of ``url`` when it does not exist yet."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to use {name!r}: the bench empties it; use a name with 'bench'")
    if parts.scheme.startswith("postgres"):
        import psycopg

        with psycopg.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username,
            password=parts.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    else:
        import MySQLdb

        conn = MySQLdb.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username,
            passwd=parts.password or "",
        )
        conn.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
        conn.close()


class Bench:
    """One backend: Django set up on its database, a fake Zoho, pools of loop workers."""

    def __init__(self, args: argparse.Namespace, url: str, fake: Any) -> None:
        self.args, self.url, self.fake = args, url, fake
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="tests.worker_settings",
            ZOHO_TOKENS_LOG_LEVEL="CRITICAL",
        )
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # shared with workers
        # A dedicated key: ``manage.py`` children (the sweep) run the system checks, which
        # refuse a key derived from SECRET_KEY with DEBUG off.
        from cryptography.fernet import Fernet

        os.environ.setdefault("ZOHO_TOKENS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from zoho_tokens.models import ZohoToken

        call_command("migrate", verbosity=0)
        ZohoToken.objects.all().delete()
        self.connection, self.model = connection, ZohoToken
        self.vendor = connection.vendor
        self.row: Any = None

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "ZOHO_TOKENS_ENCRYPTION_KEYS": os.environ["ZOHO_TOKENS_ENCRYPTION_KEYS"],
            "ZOHO_TOKENS_LOG_LEVEL": "CRITICAL",
            "ZOHO_TOKENS_HTTP_TIMEOUT": str(self.args.http_timeout),
            "ZOHO_TOKENS_TEST_APPLICATION_NAME": APP_NAME,
            "ZOHO_ACCOUNTS_URL": self.fake.url,
            "ZOHO_API_DOMAIN": self.fake.url,
            **extra,
        }

    def pool(self, **extra: str) -> Workers:
        argv = ["loop", "--user", USER, "--interval", str(self.args.interval)]
        return Workers(self.args.workers, argv, self.env(**extra), timeout=180)

    def new_token(self, expires_in_ms: int) -> None:
        """A new row (and a new refresh token at the fake: its throttle counts per token)."""
        self.model.objects.all().delete()
        refresh = self.fake.add_refresh_token(email="faults@example.com", zgid="700000013")
        self.row = self.model.objects.create(
            user_name=USER,
            client_id="1000.FAULTSCLIENT",
            client_secret="faults-client-secret",
            refresh_token=refresh,
            access_token=self.fake.issue_access_token(refresh),
            expiry_time=now_ms() + expires_in_ms,
            api_domain=self.fake.url,
        )
        self.fake.fail_mode = None

    def stored(self) -> Any:
        return self.model.objects.get(pk=self.row.pk)

    def wait_until(self, condition, seconds: float) -> float | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return time.time()
            time.sleep(0.02)
        return None

    # -- killing our own connections (never anybody else's) -----------------------------------

    def kill_worker_connections(self, pool: Workers) -> int:
        if self.vendor == "sqlite":
            for proc in pool.procs:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGUSR1)
            return len(pool.procs)
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "application_name = %s AND datname = current_database() "
                    "AND pid <> pg_backend_pid()",
                    [APP_NAME],
                )
                return len(cursor.fetchall())
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                "AND ID <> CONNECTION_ID()"
            )
            ids = [row[0] for row in cursor.fetchall()]
            for thread in ids:
                with contextlib.suppress(Exception):  # gone meanwhile
                    cursor.execute(f"KILL CONNECTION {int(thread)}")
            return len(ids)

    # -- the faults ---------------------------------------------------------------------------

    def db_restart(self) -> dict[str, Any]:
        self.new_token(3600_000)
        requests = self.fake.counters["requests"]
        with self.pool() as pool:
            pool.start_all()
            time.sleep(self.args.warmup)
            down_at = time.time()
            kills = 0
            while time.time() - down_at < self.args.down:
                kills += self.kill_worker_connections(pool)
                time.sleep(0.1)
            up_at = time.time()
            time.sleep(self.args.after)
            reports = pool.stop_all()
        recovered = [first_success_after([r], up_at) for r in reports]
        return {
            "connections_killed": kills,
            "calls": sum(r["calls"] for r in reports),
            "failed_while_down": calls_in(reports, 0, up_at, ok=False),
            "failed_after_up": calls_in(reports, up_at, time.time(), ok=False),
            "failed_while_usable": calls_in(reports, up_at, time.time(), ok=False),
            "refresh_requests": self.fake.counters["requests"] - requests,
            "recovery_s": _seconds(max((t for t in recovered if t), default=None), up_at)
            if all(recovered)
            else None,
            "errors": errors_in(reports),
        }

    def replica(self) -> dict[str, Any]:
        self.new_token(3600_000)
        requests, throttled = self.fake.counters["requests"], self.fake.counters["throttled"]
        per_expiry = []
        with self.pool(ZOHO_TOKENS_TEST_REPLICA="1") as pool:
            pool.start_all()
            time.sleep(self.args.warmup)
            for _ in range(self.args.expiries):
                before = self.fake.counters["requests"]
                self.model.objects.filter(pk=self.row.pk).update(expiry_time=now_ms() + 2000)
                self.wait_until(lambda: self.stored().expiry_time > now_ms() + 600_000, 30)
                time.sleep(1.0)
                per_expiry.append(self.fake.counters["requests"] - before)
            reports = pool.stop_all()
        return {
            "expiries": self.args.expiries,
            "calls": sum(r["calls"] for r in reports),
            "failed_while_usable": sum(r["failed"] for r in reports),
            "refresh_requests": self.fake.counters["requests"] - requests,
            "refresh_requests_per_expiry": per_expiry,
            "throttled": self.fake.counters["throttled"] - throttled,
            "longest_call_s": max(r["longest_call"] for r in reports),
            "recovery_s": None,
            "errors": errors_in(reports),
        }

    def zoho_500(self) -> dict[str, Any]:
        self.new_token(45_000)  # inside the 60 s window, valid for 40 s more (SDK: 5 s)
        usable_until = (self.row.expiry_time - 5000) / 1000
        requests = self.fake.counters["requests"]
        with self.pool() as pool:
            self.fake.fail_mode = "500"
            started = pool.start_all()
            time.sleep(self.args.outage)
            in_outage = self.fake.counters["requests"] - requests
            self.fake.fail_mode = None
            healed_at = time.time()
            refreshed = self.wait_until(
                lambda: self.stored().expiry_time > now_ms() + 600_000, self.args.recovery_cap
            )
            time.sleep(1.0)
            reports = pool.stop_all()
        return {
            "outage_s": self.args.outage,
            "calls": sum(r["calls"] for r in reports),
            "failed_while_usable": calls_in(reports, started, usable_until, ok=False),
            "failed_after_expiry": calls_in(reports, usable_until, time.time(), ok=False),
            "refresh_requests": in_outage,
            "refresh_requests_per_minute": round(in_outage * 60 / self.args.outage, 1),
            "recovery_s": _seconds(first_success_after(reports, healed_at), healed_at),
            "refreshed_s": _seconds(refreshed, healed_at),
            "errors": errors_in(reports),
        }

    def sigkill(self, expired: bool) -> dict[str, Any]:
        self.new_token(-1000 if expired else 30_000)
        requests = self.fake.counters["requests"]
        with self.pool() as pool:
            owner, *others = pool.procs
            self.fake.fail_mode, self.fake.slow_seconds = "slow", 120
            pool.send(owner)
            self.wait_until(
                lambda: (
                    self.model.objects.filter(pk=self.row.pk)
                    .exclude(refresh_lease_owner="")
                    .exists()
                ),
                30,
            )
            for proc in others:
                pool.send(proc)
            time.sleep(0.5)
            os.kill(owner.pid, signal.SIGKILL)
            killed_at = time.time()
            owner.wait(timeout=10)
            self.fake.fail_mode = None
            refreshed = self.wait_until(
                lambda: self.stored().expiry_time > now_ms() + 600_000,
                self.args.http_timeout + 30,
            )
            time.sleep(1.0)
            reports = pool.stop_all(others)
        failed_after = calls_in(reports, killed_at, time.time(), ok=False)
        return {
            "token": "expired" if expired else "valid",
            "http_timeout": self.args.http_timeout,
            "calls": sum(r["calls"] for r in reports),
            "failed_while_usable": None if expired else sum(r["failed"] for r in reports),
            "failed_after_kill": failed_after,
            "failed": sum(r["failed"] for r in reports),
            "refresh_requests": self.fake.counters["requests"] - requests,
            "recovery_s": _seconds(first_success_after(reports, killed_at), killed_at),
            "refreshed_s": _seconds(refreshed, killed_at),
            "errors": errors_in(reports),
        }

    # -- issue 22: clock skew, sweeps, statement timeouts, Zoho's answers, a slow Zoho ---------

    def _expiries(self, pools: list[Workers], n: int) -> tuple[list[int], list[float]]:
        """Let the token expire ``n`` times (2 s left); refresh requests per expiry and the
        stored expiry's error against Zoho's (the moment of the refresh + its lifetime), s."""
        per_expiry, errors = [], []
        for _ in range(n):
            before = self.fake.counters["refresh"]
            self.model.objects.filter(pk=self.row.pk).update(expiry_time=now_ms() + 2000)
            at = self.wait_until(lambda: self.stored().expiry_time > now_ms() + 600_000, 30)
            time.sleep(1.5)
            per_expiry.append(self.fake.counters["refresh"] - before)
            if at is not None:
                zoho = at * 1000 + self.fake.expires_in * 1000
                errors.append(round((self.stored().expiry_time - zoho) / 1000, 2))
        return per_expiry, errors

    def _backoff_written(self, skew: float) -> float | None:
        """One worker (``skew`` s off) meets a Zoho 500: the backoff it writes, in s from now
        on a correct clock (5 s ± 20 % expected)."""
        env = {"ZOHO_TOKENS_TEST_CLOCK_SKEW": str(skew)} if skew else {}
        argv = ["loop", "--user", USER, "--interval", str(self.args.interval)]
        with Workers(1, argv, self.env(**env), timeout=180) as pool:
            self.new_token(45_000)  # once the worker is up (a loaded machine starts slowly)
            self.fake.fail_mode = "500"
            started = now_ms()
            pool.start_all()
            self.wait_until(lambda: self.stored().refresh_backoff_until is not None, 20)
            pool.stop_all()
        self.fake.fail_mode = None
        until = self.stored().refresh_backoff_until
        return None if until is None else round((until - started) / 1000, 2)

    def clock_skew(self) -> dict[str, Any]:
        """One of the workers runs ``--skew`` s fast; the others are right."""
        self.new_token(3600_000)
        argv = ["loop", "--user", USER, "--interval", str(self.args.interval)]
        skewed = self.env(ZOHO_TOKENS_TEST_CLOCK_SKEW=str(self.args.skew))
        with (
            Workers(self.args.workers - 1, argv, self.env(), timeout=180) as pool,
            Workers(1, argv, skewed, timeout=180) as fast,
        ):
            pool.start_all()
            fast.start_all()
            time.sleep(self.args.warmup)
            per_expiry, errors = self._expiries([pool, fast], self.args.expiries)
            reports = pool.stop_all()
            fast_reports = fast.stop_all()
        return {
            "skew_s": self.args.skew,
            "expiries": self.args.expiries,
            "refresh_requests_per_expiry": per_expiry,
            "extra_refreshes": sum(per_expiry) - self.args.expiries,
            "stored_expiry_error_s": errors,
            "calls": sum(r["calls"] for r in reports),
            "failed_correct_workers": sum(r["failed"] for r in reports),
            "failed_skewed_worker": sum(r["failed"] for r in fast_reports),
            "backoff_s_correct": self._backoff_written(0),
            "backoff_s_skewed": self._backoff_written(self.args.skew),
            "refresh_requests": sum(per_expiry),
            "recovery_s": None,
            "errors": errors_in(reports),
        }

    def sweep_reset(self) -> dict[str, Any]:
        """``zoho_tokens refresh --expiring-within 600`` over ``--sweep-tokens`` tokens in
        ``--sweep-tenants`` tenants: one connection reset at the 18th request, 10 % of the
        tenants failing (half 500, half ``invalid_client``)."""
        self.model.objects.all().delete()
        tokens, tenants = self.args.sweep_tokens, self.args.sweep_tenants
        failing_tenants = {f"t{n:03d}" for n in range(0, tenants, 10)}
        rows = []
        for n in range(tokens):
            tenant = f"t{n % tenants:03d}"
            refresh = self.fake.add_refresh_token(email=f"u{n}@example.com", zgid=f"7{n:06d}")
            rows.append(
                self.model.objects.create(
                    tenant=tenant,
                    user_name=f"u{n}@example.com:7{n:06d}",
                    client_id="1000.FAULTSCLIENT",
                    client_secret="faults-client-secret",
                    refresh_token=refresh,
                    access_token="1000.old",
                    expiry_time=now_ms() + 100_000 + (n * 7919) % 400_000,
                    api_domain=self.fake.url,
                )
            )
            if tenant in failing_tenants:
                bad = "500" if (n // tenants) % 2 == 0 else "invalid_client"
                self.fake.fail_refresh(refresh, bad)
        self.fake.refreshes_of.clear()
        self.fake.reset_next(1, after=17)
        started = time.time()
        done = subprocess.run(
            [sys.executable, "manage.py", "zoho_tokens", "refresh", "--expiring-within", "600"],
            cwd=ROOT,
            env={**os.environ, **self.env(DJANGO_SETTINGS_MODULE="tests.worker_settings")},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = round(time.time() - started, 1)
        healthy = [r for r in rows if r.tenant not in failing_tenants]
        stored = {r.pk: r for r in self.model.objects.all()}
        refreshed = sum(1 for r in healthy if stored[r.pk].access_token != "1000.old")
        per_token = [self.fake.refreshes_of[r.refresh_token] for r in rows]
        self.model.objects.all().delete()
        return {
            "tokens": tokens,
            "tenants": tenants,
            "healthy": len(healthy),
            "healthy_refreshed": refreshed,
            "max_requests_per_token": max(per_token),
            "refresh_requests": sum(per_token),
            "exit_code": done.returncode,
            "summary": (done.stdout.strip().splitlines() or [""])[-1][:300],
            "stderr_tail": done.stderr.strip().splitlines()[-1][:300] if done.stderr else "",
            "sweep_s": seconds,
            "calls": 0,
            "recovery_s": None,
        }

    def statement_timeout(self) -> dict[str, Any]:
        """PostgreSQL with ``statement_timeout=50ms`` for the workers' sessions: concurrent
        saves, then expiries under the loop workers; leases left held afterwards."""
        if self.vendor != "postgresql":
            return {"skipped": "statement_timeout is PostgreSQL's", "calls": 0}
        env = self.env(ZOHO_TOKENS_TEST_STATEMENT_TIMEOUT="50")
        self.model.objects.all().delete()
        argv = ["save", "--user", "saves@example.com:700000013", "--access-token", "1000.a"]
        argv += ["--refresh-token", "1000.r", "--expires-in", str(now_ms() + 3_600_000)]
        saves: list[dict[str, Any]] = []
        with Workers(self.args.workers, argv, env, timeout=180) as savers:
            for _ in range(self.args.save_rounds):
                saves += savers.round()
        self.new_token(3600_000)
        loop = ["loop", "--user", USER, "--interval", str(self.args.interval)]
        with Workers(self.args.workers, loop, env, timeout=180) as pool:
            pool.start_all()
            per_expiry, _errors = self._expiries([pool], self.args.expiries)
            reports = pool.stop_all()
        return {
            "saves": len(saves),
            "failed_saves": sum(1 for s in saves if not s["ok"]),
            "save_errors": sorted({s["error"][:120] for s in saves if not s["ok"]})[:3],
            "calls": sum(r["calls"] for r in reports),
            "failed_finds": sum(r["failed"] for r in reports),
            "leases_left_held": self.model.objects.exclude(refresh_lease_owner="").count(),
            "refresh_requests": sum(per_expiry),
            "recovery_s": None,
            "errors": errors_in(reports),
        }

    def zoho_answers(self) -> dict[str, Any]:
        """``invalid_grant`` on every refresh, then one transient ``invalid_code`` followed by
        success; the token is in the refresh window, usable for 25 s more."""
        out: dict[str, Any] = {}
        for case, answers in (("invalid_grant", None), ("invalid_code_once", ["invalid_code"])):
            with self.pool() as pool:
                self.new_token(30_000)  # once the workers are up
                refresh = self.row.refresh_token
                if answers is None:
                    self.fake.fail_refresh(refresh, "invalid_grant")
                else:
                    self.fake.script_refresh(refresh, *answers)
                before = self.fake.refreshes_of[refresh]
                usable_until = (self.row.expiry_time - 5000) / 1000
                started = pool.start_all()
                time.sleep(self.args.answer_seconds)
                reports = pool.stop_all()
            self.fake.fail_refresh(refresh, "")
            out[case] = {
                "requests": self.fake.refreshes_of[refresh] - before,
                "invalid": self.stored().invalid_reason or "",
                "calls": sum(r["calls"] for r in reports),
                "failed_while_usable": calls_in(reports, started, usable_until, ok=False),
                "errors": errors_in(reports),
            }
        return out

    def slow_zoho(self) -> dict[str, Any]:
        """Zoho answers refreshes after ``HTTP_TIMEOUT`` + 1 s for ``--outage`` s with the token
        expired: access tokens Zoho issued that the store never stored."""
        with self.pool() as pool:
            self.new_token(-1000)
            issued = self.fake.counters["refresh_ok"]
            stored_before = self.stored().access_token
            self.fake.fail_mode, self.fake.slow_seconds = "slow", self.args.http_timeout + 1
            seen = {stored_before}
            pool.start_all()
            deadline = time.time() + self.args.slow_seconds_total
            while time.time() < deadline:
                seen.add(self.stored().access_token)
                time.sleep(0.05)
            self.fake.fail_mode = None
            time.sleep(self.args.http_timeout + 2)
            seen.add(self.stored().access_token)
            reports = pool.stop_all()
        issued = self.fake.counters["refresh_ok"] - issued
        stored = len(seen - {stored_before})
        return {
            "zoho_delay_s": self.args.http_timeout + 1,
            "issued": issued,
            "stored": stored,
            "issued_not_stored": max(issued - stored, 0),
            "calls": sum(r["calls"] for r in reports),
            "refresh_requests": issued,
            "recovery_s": None,
            "errors": errors_in(reports),
        }


def _seconds(t: float | None, since: float) -> float | None:
    return None if t is None else round(max(t - since, 0.0), 2)


# -- one backend (child process) -------------------------------------------------------------


def run_backend(args: argparse.Namespace) -> dict[str, Any]:
    from zoho_tokens.testing.fake_zoho import FakeZoho

    if args.backend == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='zoho-faults-')) / 'faults.sqlite3'}"
    else:
        url = args.pg if args.backend == "postgres" else args.mysql
        create_database(url)
    results: dict[str, Any] = {"load_before": load(), "workers": args.workers}
    with FakeZoho() as fake:
        bench = Bench(args, url, fake)
        results["vendor"] = bench.vendor
        for name in args.faults.split(","):
            if not hasattr(bench, name):
                print(f"  {args.backend} {name}: no such fault here, skipped", file=sys.stderr)
                continue
            t0 = time.time()
            if name == "sigkill":
                result = {"expired": bench.sigkill(True), "valid": bench.sigkill(False)}
            else:
                result = getattr(bench, name)()
            result_seconds = round(time.time() - t0, 1)
            results[name] = (
                {**result, "bench_seconds": result_seconds} if name != "sigkill" else result
            )
            print(f"  {args.backend} {name}: done in {result_seconds} s", file=sys.stderr)
        bench.model.objects.all().delete()
    results["load_after"] = load()
    return results


# -- report -----------------------------------------------------------------------------------


def targets(backend: dict[str, Any], http_timeout: float) -> dict[str, bool]:
    out = {}
    if "db_restart" in backend:
        out["db_restart: 0 failed after up"] = backend["db_restart"]["failed_after_up"] == 0
    if "replica" in backend:
        r = backend["replica"]
        out["replica: 1 refresh per expiry, 0 failed"] = (
            r["refresh_requests"] == r["expiries"] and r["failed_while_usable"] == 0
        )
    if "zoho_500" in backend:
        z = backend["zoho_500"]
        out["zoho_500: <= 12 requests/min, 0 failed while valid"] = (
            z["refresh_requests_per_minute"] <= 12 and z["failed_while_usable"] == 0
        )
    if "sigkill" in backend:
        e, v = backend["sigkill"]["expired"], backend["sigkill"]["valid"]
        out["sigkill: next success <= HTTP_TIMEOUT + 5 s"] = (
            e["recovery_s"] is not None and e["recovery_s"] <= http_timeout + 5
        )
        out["sigkill: 0 failed when valid"] = v["failed"] == 0
    if "clock_skew" in backend:
        c = backend["clock_skew"]
        out["clock_skew: 0 extra refreshes, expiry within 2 s, 0 failed (correct workers)"] = (
            c["extra_refreshes"] == 0
            and all(abs(e) <= 2 for e in c["stored_expiry_error_s"])
            and c["failed_correct_workers"] == 0
        )
        right, skewed = c["backoff_s_correct"], c["backoff_s_skewed"]
        out["clock_skew: backoff within 20 % + jitter of the unskewed one"] = bool(
            right and skewed and abs(skewed - right) <= 0.45 * right
        )
    if "sweep_reset" in backend:
        w = backend["sweep_reset"]
        out["sweep_reset: every healthy token refreshed, <= 2 requests each, exit 1"] = (
            w["healthy_refreshed"] == w["healthy"]
            and w["max_requests_per_token"] <= 2
            and w["exit_code"] == 1
        )
    if "statement_timeout" in backend and "skipped" not in backend["statement_timeout"]:
        t = backend["statement_timeout"]
        out["statement_timeout: 0 failed saves/finds, 0 leases left held"] = (
            t["failed_saves"] == 0 and t["failed_finds"] == 0 and t["leases_left_held"] == 0
        )
    if "zoho_answers" in backend:
        answers = backend["zoho_answers"]
        g, c = answers["invalid_grant"], answers["invalid_code_once"]
        out["zoho_answers: invalid_grant invalid after <= 2 requests, 0 failed while usable"] = (
            g["invalid"] == "invalid_grant" and g["requests"] <= 2 and g["failed_while_usable"] == 0
        )
        out["zoho_answers: one transient invalid_code leaves the row valid"] = (
            c["invalid"] == "" and c["failed_while_usable"] == 0
        )
    if "slow_zoho" in backend:
        out["slow_zoho: every access token Zoho issued is stored"] = (
            backend["slow_zoho"]["issued_not_stored"] == 0
        )
    return out


def show(name: str, backend: dict[str, Any], http_timeout: float) -> None:
    print(
        f"\n{name} ({backend['workers']} workers; load {backend['load_before']} -> "
        f"{backend['load_after']})"
    )
    print(
        f"  {'fault':22} {'calls':>7} {'failed usable':>14} {'failed other':>13} "
        f"{'Zoho requests':>14} {'next ok s':>10} {'refreshed s':>12}"
    )
    rows = []
    for fault in ("db_restart", "replica", "zoho_500"):
        if fault in backend:
            rows.append((fault, backend[fault]))
    if "sigkill" in backend:
        rows += [(f"sigkill ({k})", v) for k, v in backend["sigkill"].items()]
    for label, r in rows:
        usable = r.get("failed_while_usable")
        usable = r["failed_after_kill"] if usable is None else usable
        other = sum(r.get(k, 0) for k in ("failed_while_down", "failed_after_expiry"))
        if "failed_after_kill" in r and r.get("failed_while_usable") is None:
            other = r["failed"] - r["failed_after_kill"]
        rec = "-" if r.get("recovery_s") is None else f"{r['recovery_s']:.2f}"
        fresh = "-" if r.get("refreshed_s") is None else f"{r['refreshed_s']:.2f}"
        print(
            f"  {label:22} {r['calls']:>7} {usable:>14} {other:>13} "
            f"{r['refresh_requests']:>14} {rec:>10} {fresh:>12}"
        )
        for error, count in list(r.get("errors", {}).items())[:3]:
            print(f"      {count} x {error[:110]}")
    for fault in NEW_FAULTS:
        if fault in backend:
            figures = {
                k: {kk: vv for kk, vv in v.items() if kk != "errors"} if isinstance(v, dict) else v
                for k, v in backend[fault].items()
                if k not in ("errors", "calls")
            }
            print(f"  {fault}: {json.dumps(figures)[:600]}")
    for target, ok in targets(backend, http_timeout).items():
        print(f"  [{'ok' if ok else 'MISSED'}] {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="all", choices=["all", *BACKENDS])
    parser.add_argument("--quick", action="store_true", help="shorter faults (about 1 min each)")
    parser.add_argument(
        "--faults",
        default="db_restart,replica,zoho_500,sigkill,clock_skew,sweep_reset,statement_timeout,"
        "zoho_answers,slow_zoho",
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between calls")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/wt_faults_bench")
    parser.add_argument("--mysql", default="mysql://root@127.0.0.1:3306/wt_faults_bench")
    parser.add_argument("--write", action="store_true", help=f"merge results into {RESULTS.name}")
    parser.add_argument("--skew", type=float, default=60.0, help="clock_skew: seconds fast")
    parser.add_argument("--sweep-tokens", type=int, default=2000)
    parser.add_argument("--sweep-tenants", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = args.quick
    args.http_timeout = 3.0 if quick else 10.0
    args.warmup = 1.0 if quick else 2.0
    args.down = 1.5 if quick else 2.6
    args.after = 2.0 if quick else 5.0
    args.expiries = 2 if quick else 3
    args.outage = 20.0 if quick else 60.0
    args.recovery_cap = 60.0 if quick else 120.0
    args.save_rounds = 10 if quick else 60
    args.answer_seconds = 6.0 if quick else 12.0
    args.slow_seconds_total = 15.0 if quick else 25.0

    if args.child:
        print(json.dumps(run_backend(args)))
        return

    backends = BACKENDS if args.backend == "all" else (args.backend,)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": load(),
    }
    results.setdefault("runs", {})
    for backend in backends:
        argv = ["--backend", backend, "--child", "--faults", args.faults]
        argv += ["--workers", str(args.workers), "--interval", str(args.interval)]
        argv += ["--pg", args.pg, "--mysql", args.mysql] + (["--quick"] if quick else [])
        argv += ["--skew", str(args.skew), "--sweep-tokens", str(args.sweep_tokens)]
        argv += ["--sweep-tenants", str(args.sweep_tenants)]
        child = subprocess.run(
            [sys.executable, __file__, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{backend}: the bench failed (exit {child.returncode})", file=sys.stderr)
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["quick"] = quick
        result["http_timeout"] = args.http_timeout
        key = f"{backend}{' (quick)' if quick else ''}"
        # A run of some faults (--faults) replaces those and keeps the others' last results.
        results["runs"][key] = result = {**results["runs"].get(key, {}), **result}
        show(key, result, args.http_timeout)
    if args.write:
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    else:
        print(f"\n(not written: pass --write to merge these into {RESULTS.name})")


if __name__ == "__main__":
    main()
