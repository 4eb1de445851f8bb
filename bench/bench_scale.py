"""Scale: the admin, the operator commands and sweeps at 100k tokens and 1M audit rows.

    createdb -h 127.0.0.1 -U postgres bench_h25
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h25 .venv/bin/python bench/bench_scale.py
    .venv/bin/python bench/bench_scale.py                 # SQLite scratch file, 10k / 100k
    ... --only admin,list,export,prune --repeat 3 --write --label after

Seeds once (fast bulk SQL: ``generate_series`` for the audit, ``COPY``/``executemany`` of
rows encrypted in Python for the tokens) and reuses the data on the next run (``--reseed``
to start again): ``--tokens`` (default 100,000 on PostgreSQL/MariaDB, 10,000 on SQLite) in
1,000 tenants, a tenth of them in the default tenant "", and ``--audit`` rows (1,000,000 /
100,000) over the last 800 days. The database name must contain ``bench``.

Sections (``--only``):
- ``admin``: each audit and token changelist view (plain, every filter, search, last page)
  through Django's test client as a superuser: median ms of ``--repeat`` runs and queries.
- ``list``: ``manage.py zoho_tokens list`` as a child process: seconds and peak RSS, against
  the floor (a child reading the same columns with the raw driver).
- ``export``: ``zoho_tokens export`` of the default tenant (a tenth of the tokens): seconds
  and peak RSS.
- ``rotate``: ``rotate-keys`` moving every token to a new first key, against the floor (a
  child re-encrypting the same values and writing them with ``executemany`` in batches of
  500); then ``rotate-keys`` again with every row already on the first key.
- ``import``: ``import`` of a 10,000-row FileStore CSV against the floor (the same rows
  encrypted and inserted with ``executemany`` in batches of 500, one transaction).
- ``sweeps``: ``refresh --expiring-within 600 --shard i/N`` over ``--due`` due tokens (of a
  tenant of their own) in 1, 2 and 4 worker processes at once, the fake Zoho answering each
  refresh after ``--latency`` s; counts refreshes at Zoho (``--no-shards`` for code without
  shards: every worker sweeps everything).
- ``prune``: ``zoho_tokens prune-audit`` (the rows older than 400 days, about half) against
  the floor, one ``DELETE`` (rolled back); the longest batch is the longest lock held.
  Destructive: run it last (``--reseed`` puts the rows back).

Results go to ``bench/results-scale.json`` only with ``--write`` (under ``--label``, e.g.
``before`` for a run of the previous code, ``after``), so a run never rewrites tracked files
unless asked. Compare ratios measured in one run: the machines are shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = Path(os.environ.get("BENCH_CODE", ROOT))  # the code under test (a checkout of main)
sys.path.insert(0, str(CODE))
RESULTS = ROOT / "bench" / "results-scale.json"
SCRATCH_SQLITE = Path(tempfile.gettempdir()) / "zoho-tokens-bench-scale.sqlite3"
KEY_A = "hJ7u9-0sJvQbX1s5kWm3xq7h2ZkTq8cJ2yq1n0cVv4E="
KEY_B = "0r8YdV3mC6pNq1xZt5uA2bE7fH9jK4LwS-_gQeRyTiU="

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{SCRATCH_SQLITE}")
os.environ.setdefault("ZOHO_TOKENS_LOG_LEVEL", "ERROR")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("SECRET_KEY", "bench-scale-" + "x" * 50)
os.environ.setdefault("ZOHO_TOKENS_ENCRYPTION_KEYS", KEY_A)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from zoho_tokens import crypto  # noqa: E402
from zoho_tokens.models import AuditAction, TokenAuditEvent, ZohoToken  # noqa: E402

TENANTS = 1000
AUDIT_DAYS = 800


def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def check_scratch() -> None:
    if "bench" not in database_name():
        sys.exit(f"refusing to use database {database_name()!r}: its name must contain 'bench'")


# -- seeding ------------------------------------------------------------------------------------


def tenant_of(n: int) -> str:
    return "" if n % 10 == 0 else f"t{n % TENANTS}"


def token_rows(count: int) -> list[tuple]:
    """Encrypted like the app stores them (one Fernet token per value, checksums set)."""
    now_ms = int(time.time() * 1000)
    key_id = crypto.primary_key_id()
    rows = []
    for n in range(count):
        refresh = f"1000.r{n:032x}.{secrets.token_hex(16)}"
        access = f"1000.a{n:032x}.{secrets.token_hex(16)}"
        rows.append(
            (
                str(1_000_000 + n),
                tenant_of(n),
                f"user{n}@example.com:{700000000 + n}",
                "1000.BENCHCLIENT",
                crypto.encrypt("bench-client-secret-0123456789abcdef", shared=True),
                crypto.encrypt(refresh),
                crypto.encrypt(access),
                "",
                crypto.checksum(refresh),
                crypto.checksum(access),
                "",
                # A tenth expired, a tenth expiring soon, the rest active.
                now_ms + (-60_000 if n % 10 == 3 else 120_000 if n % 10 == 5 else 3_000_000),
                "https://example.com/cb",
                "https://www.zohoapis.eu" if n % 7 == 0 else "https://www.zohoapis.com",
                key_id,
            )
        )
    return rows


TOKEN_COLUMNS = (
    "id, tenant, user_name, client_id, client_secret, refresh_token, access_token, grant_token, "
    "refresh_token_checksum, access_token_checksum, grant_token_checksum, expiry_time, "
    "redirect_url, api_domain, key_id"
)
DEFAULTS = {
    "accounts_server": "''",
    "invalid_reason": "''",
    "refresh_failures": "0",
    "refresh_error": "''",
    "refresh_lease_owner": "''",
    "scope": "''",  # NOT NULL since migration 0010
}


def seed(tokens: int, audit: int) -> None:
    started = time.perf_counter()
    TokenAuditEvent.objects.all()._raw_delete(TokenAuditEvent.objects.db)
    ZohoToken.objects.all()._raw_delete(ZohoToken.objects.db)
    table = ZohoToken._meta.db_table
    columns = TOKEN_COLUMNS + ", " + ", ".join(DEFAULTS) + ", created_at, updated_at"
    rows = token_rows(tokens)
    stamp = timezone.now()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            batch = rows[start : start + 5000]
            chunk = [(*row, *("", "", 0, "", "", ""), stamp, stamp) for row in batch]
            marks = ", ".join(["%s"] * len(chunk[0]))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", chunk)
    seed_audit(audit, tokens)
    print(f"seeded {tokens} tokens, {audit} audit rows in {time.perf_counter() - started:.1f} s")


def seed_audit(audit: int, tokens: int) -> None:
    table = TokenAuditEvent._meta.db_table
    actions = AuditAction.values
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            array = "ARRAY[" + ",".join(f"'{a}'" for a in actions) + "]"
            cursor.execute(
                f"""INSERT INTO {table} (created_at, action, token_id, user_name, tenant,
                    actor_id, actor_name, source, outcome, detail)
                SELECT now() - make_interval(secs => n * {AUDIT_DAYS * 86400.0 / audit}),
                    ({array})[1 + n % {len(actions)}], (1000000 + n % {tokens})::text,
                    'user' || (n % {tokens}) || '@example.com:' || (700000000 + n % {tokens}),
                    CASE WHEN n % {tokens} % 10 = 0 THEN ''
                         ELSE 't' || (n % {tokens} % {TENANTS}) END,
                    NULL, '', (ARRAY['sdk','sdk','sdk','task','admin'])[1 + n % 5], 'ok', '{{}}'
                FROM generate_series(1, {audit}) AS n"""
            )
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {ZohoToken._meta.db_table}")
        else:
            now = time.time()
            step = AUDIT_DAYS * 86400.0 / audit
            for start in range(0, audit, 20000):
                chunk = []
                for n in range(start + 1, min(audit, start + 20000) + 1):
                    t = n % tokens
                    when = dt.datetime.fromtimestamp(now - n * step, tz=dt.UTC)
                    chunk.append(
                        (
                            when,
                            actions[n % len(actions)],
                            str(1_000_000 + t),
                            f"user{t}@example.com:{700000000 + t}",
                            tenant_of(t),
                            "",
                            ["sdk", "sdk", "sdk", "task", "admin"][n % 5],
                            "ok",
                            "{}",
                        )
                    )
                cursor.executemany(
                    f"INSERT INTO {table} (created_at, action, token_id, user_name, tenant, "
                    "actor_name, source, outcome, detail) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    chunk,
                )


# -- measuring ----------------------------------------------------------------------------------


CPU_SECONDS: list[float] = []


def child(args: list[str], env: dict | None = None) -> tuple[float, float, str, str]:
    """Run a child process: (seconds, peak RSS in MB of that child, stdout tail, stderr tail)."""
    code = (
        "import resource, subprocess, sys, json;"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(json.dumps([r.returncode, u.ru_maxrss, r.stdout[-300:], r.stderr[-300:],"
        " u.ru_utime + u.ru_stime]))"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=CODE,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(CODE)},
        check=True,
    )
    seconds = time.perf_counter() - started
    rc, rss_kb, stdout, stderr, cpu = json.loads(out.stdout)
    CPU_SECONDS.append(cpu)  # the child's own CPU time: what a busy machine does not inflate
    if rc:
        print(f"  child {args[2:5]} exited {rc}: {stderr.strip()[-200:]}")
    return seconds, rss_kb / 1024, stdout, stderr


def manage(*args: str, env: dict | None = None) -> tuple[float, float, str, str]:
    return child([sys.executable, str(CODE / "manage.py"), *args], env)


FLOOR_LIST = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT id, user_name, tenant, api_domain, expiry_time, invalid_reason, key_id "
              "FROM zoho_tokens_zohotoken ORDER BY tenant, user_name, id")
    n = 0
    for row in c:
        sys.stdout.write("  ".join(str(v) for v in row) + "\\n")
        n += 1
"""


def bench_list(results: dict) -> None:
    seconds, rss, _out, _err = manage("zoho_tokens", "list")
    floor_s, floor_rss, _o, _e = child([sys.executable, "-c", FLOOR_LIST])
    cpu, floor_cpu = CPU_SECONDS[-2:]
    results["list"] = {
        "cpu_seconds": round(cpu, 2),
        "floor_cpu_seconds": round(floor_cpu, 2),
        "cpu_over_floor": round(cpu / floor_cpu, 2),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(rss),
        "floor_seconds": round(floor_s, 2),
        "floor_peak_rss_mb": round(floor_rss),
        "over_floor": round(seconds / floor_s, 2),
    }
    print(
        f"list: {seconds:.2f} s ({cpu:.2f} CPU s), {rss:.0f} MB; floor {floor_s:.2f} s "
        f"({floor_cpu:.2f} CPU s), {floor_rss:.0f} MB"
    )


def bench_export(results: dict) -> None:
    target = Path(tempfile.gettempdir()) / f"bench-scale-export-{os.getpid()}.csv"
    try:
        seconds, rss, _out, _err = manage("zoho_tokens", "export", str(target), "--force")
        rows = sum(1 for _ in target.open()) if target.exists() else 0
    finally:
        target.unlink(missing_ok=True)
    results["export"] = {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(CPU_SECONDS[-1], 2),
        "peak_rss_mb": round(rss),
        "rows": rows - 1,  # the header line
    }
    print(f"export: {rows} rows, {seconds:.2f} s, {rss:.0f} MB")


def admin_views(client: Client) -> dict[str, str]:
    audit = reverse("admin:zoho_tokens_tokenauditevent_changelist")
    tokens = reverse("admin:zoho_tokens_zohotoken_changelist")
    some = "1000042"
    views = {
        "audit": audit,
        "audit ?action=refreshed": audit + "?action=refreshed",
        "audit ?source=admin": audit + "?source=admin",
        "audit ?tenant=t7": audit + "?tenant=t7",
        "audit ?token_id (token page link)": audit + f"?token_id={some}",
        "audit search token id": audit + f"?q={some}",
        "audit search user prefix": audit + "?q=user42@",
        "tokens": tokens,
        "tokens ?status=active": tokens + "?status=active",
        "tokens ?status=expired": tokens + "?status=expired",
        "tokens ?tenant=t7": tokens + "?tenant=t7",
        "tokens ?data_center=eu": tokens + "?data_center=eu",
        "tokens search user prefix": tokens + "?q=user42@",
        "tokens search tenant": tokens + "?q=t7",
        "token page": reverse("admin:zoho_tokens_zohotoken_change", args=[some]),
    }
    for name in ("audit", "tokens"):
        response = client.get(views[name])
        pages = response.context["cl"].paginator.num_pages if response.context else 1
        views[f"{name} last page"] = views[name] + f"?p={pages}"
    return views


def bench_admin(results: dict, repeat: int, timeout: float) -> None:
    setup_test_environment()
    user = get_user_model()._default_manager.filter(username="bench-admin").first()
    if user is None:
        user = get_user_model()._default_manager.create_superuser(
            "bench-admin", "bench@example.com", "x"
        )
    client = Client()
    client.force_login(user)
    found = {}
    for name, url in admin_views(client).items():
        times, cpu, db, queries = [], [], [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            queries = len(ctx.captured_queries)
            db.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            if times[-1] > timeout * 1000:
                break  # one slow run says enough (the "before" code takes many seconds)
        found[name] = {
            "median_ms": round(statistics.median(times)),
            # On a busy machine wall time is mostly waiting for a core: the process's own CPU
            # time plus the time its queries took is what the page costs.
            "cpu_plus_db_ms": round(
                statistics.median([c + d for c, d in zip(cpu, db, strict=True)])
            ),
            "db_ms": round(statistics.median(db)),
            "queries": queries,
        }
        print(f"admin {name}: {found[name]}")
    results["admin"] = found


def bench_prune(results: dict) -> None:
    table = TokenAuditEvent._meta.db_table
    cutoff = timezone.now() - dt.timedelta(days=400)
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE created_at < %s", [cutoff])
            floor_rows = cursor.rowcount
        floor = time.perf_counter() - started
        transaction.set_rollback(True)
    seconds, _rss, out, _err = manage("zoho_tokens", "prune-audit")
    results["prune"] = {
        "rows": floor_rows,
        "seconds": round(seconds, 2),
        "floor_one_delete_seconds": round(floor, 2),
        "output": out.strip()[-200:],
    }
    print(f"prune: {out.strip()} in {seconds:.2f} s; one DELETE of {floor_rows}: {floor:.2f} s")


FLOOR_ROTATE = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from django.db import connection, transaction
from zoho_tokens import crypto
primary, fields = crypto.primary_key_id(), ("client_secret", "refresh_token", "access_token")
with connection.cursor() as c:
    c.execute("SELECT id, client_secret, refresh_token, access_token FROM zoho_tokens_zohotoken "
              "WHERE key_id <> %s ORDER BY id", [primary])
    rows = c.fetchall()
for start in range(0, len(rows), 500):
    batch = [(*(crypto.rotate(v, shared=(f == "client_secret")) if v else v
                for f, v in zip(fields, row[1:])), primary, row[0])
             for row in rows[start:start + 500]]
    with transaction.atomic(), connection.cursor() as c:
        c.executemany("UPDATE zoho_tokens_zohotoken SET client_secret = %s, refresh_token = %s, "
                      "access_token = %s, key_id = %s WHERE id = %s", batch)
print(len(rows))
"""


def bench_rotate(results: dict) -> None:
    """rotate-keys A -> B (every row), the floor B -> A, then rotate-keys with everything
    already on the first key (A): what a re-run costs."""
    b_first = {"ZOHO_TOKENS_ENCRYPTION_KEYS": f"{KEY_B},{KEY_A}"}
    a_first = {"ZOHO_TOKENS_ENCRYPTION_KEYS": f"{KEY_A},{KEY_B}"}
    seconds, _rss, out, _err = manage("zoho_tokens", "rotate-keys", env=b_first)
    floor, _rss, floor_out, _err = child([sys.executable, "-c", FLOOR_ROTATE], a_first)
    again, _rss, again_out, _err = manage("zoho_tokens", "rotate-keys", env=a_first)
    cpu, floor_cpu, again_cpu = CPU_SECONDS[-3:]
    results["rotate_keys"] = {
        "cpu_seconds": round(cpu, 2),
        "floor_cpu_seconds": round(floor_cpu, 2),
        "rerun_cpu_seconds": round(again_cpu, 2),
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor, 2),
        "over_floor": round(seconds / floor, 2),
        "rerun_on_first_key_seconds": round(again, 2),
        "output": out.strip()[-160:],
        "rerun_output": again_out.strip()[-160:],
    }
    print(
        f"rotate-keys: {seconds:.1f} s ({cpu:.1f} CPU s; {out.strip()[-90:]}); floor "
        f"{floor:.1f} s ({floor_cpu:.1f} CPU s, {floor_out.strip()} rows); re-run on the first "
        f"key {again:.1f} s ({again_cpu:.1f} CPU s)"
    )


FLOOR_IMPORT = """
import csv, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from django.db import connection, transaction
from django.utils import timezone
from zoho_tokens import crypto
key_id, now = crypto.primary_key_id(), timezone.now()
with open(sys.argv[1]) as fh:
    rows = list(csv.reader(fh))[1:]
values = [("9" + r[0], "floor", r[1], r[2], crypto.encrypt(r[3], shared=True),
           crypto.encrypt(r[4]), crypto.encrypt(r[5]), "", crypto.checksum(r[4]),
           crypto.checksum(r[5]), "", int(r[7]), r[8], r[9], key_id, "", "", 0, "", "", "", now,
           now)
          for r in rows]
with transaction.atomic(), connection.cursor() as c:
    for start in range(0, len(values), 500):
        c.executemany("INSERT INTO zoho_tokens_zohotoken (" + sys.argv[2] + ") VALUES ("
                      + ", ".join(["%s"] * 23) + ")", values[start:start + 500])
print(len(values))
"""


def bench_import(results: dict, count: int = 10_000) -> None:
    """``import`` of a ``count``-row FileStore CSV against a batched insert (the floor)."""
    source = Path(tempfile.gettempdir()) / f"bench-scale-import-{os.getpid()}.csv"
    far = int(time.time() * 1000) + 3_000_000
    with source.open("w") as fh:
        fh.write(
            "id,user_name,client_id,client_secret,refresh_token,access_token,grant_token,"
            "expiry_time,redirect_url,api_domain\n"
        )
        for n in range(count):
            fh.write(
                f"{5_000_000 + n},imp{n}@example.com:{800000000 + n},1000.IMPORT,"
                f"import-secret,1000.ir{n:032x}.x,1000.ia{n:032x}.x,,{far},"
                "https://example.com/cb,https://www.zohoapis.com\n"
            )
    columns = TOKEN_COLUMNS + ", " + ", ".join(DEFAULTS) + ", created_at, updated_at"
    try:
        seconds, _rss, out, err = manage("zoho_tokens", "import", str(source), "--tenant", "imp")
        floor, _rss, _out, _err = child([sys.executable, "-c", FLOOR_IMPORT, str(source), columns])
        cpu, floor_cpu = CPU_SECONDS[-2:]
    finally:
        source.unlink(missing_ok=True)
        ZohoToken.objects.filter(tenant__in=["imp", "floor"])._raw_delete(ZohoToken.objects.db)
        TokenAuditEvent.objects.filter(tenant="imp")._raw_delete(TokenAuditEvent.objects.db)
    results["import"] = {
        "rows": count,
        "cpu_seconds": round(cpu, 2),
        "floor_cpu_seconds": round(floor_cpu, 2),
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor, 2),
        "over_floor": round(seconds / floor, 2),
        "output": (out.strip() or err.strip())[-160:],
    }
    print(
        f"import {count}: {seconds:.1f} s ({cpu:.1f} CPU s); batched insert {floor:.1f} s "
        f"({floor_cpu:.1f} CPU s)"
    )


def bench_sweeps(results: dict, due: int, latency: float, sharded: bool) -> None:
    """``refresh --expiring-within 600`` over ``due`` due tokens of tenant "sweep", the fake
    Zoho answering each refresh after ``latency`` s, in 1, 2 and 4 worker processes at once
    (each with ``--shard i/N`` when ``sharded``; the code before had no shards)."""
    from zoho_tokens.testing.fake_zoho import FakeZoho

    fake = FakeZoho(refresh_limit=1_000_000).start()
    fake.token_latency = latency
    try:
        ZohoToken.objects.filter(tenant="sweep")._raw_delete(ZohoToken.objects.db)
        rows = []
        for n in range(due):
            refresh = f"1000.sw{n:032x}.x"
            fake.add_refresh_token(
                refresh,
                email=f"sw{n}@example.com",
                zgid=str(900000000 + n),
                client_id="1000.SWEEP",
                client_secret="sweep-secret",
            )
            rows.append(
                ZohoToken(
                    id=str(9_000_000 + n),
                    tenant="sweep",
                    user_name=f"sw{n}@example.com:{900000000 + n}",
                    client_id="1000.SWEEP",
                    client_secret="sweep-secret",
                    refresh_token=refresh,
                    access_token=f"1000.swa{n}",
                    expiry_time=0,
                    api_domain=fake.url,
                )
            )
        ZohoToken.objects.bulk_create(rows, batch_size=500)
        env = {
            "ZOHO_ACCOUNTS_URL": fake.url,
            "ZOHO_API_DOMAIN": fake.url,
            "ZOHO_CLIENT_ID": "1000.SWEEP",
            "ZOHO_CLIENT_SECRET": "sweep-secret",
        }
        found = {}
        for workers in (1, 2, 4):
            ZohoToken.objects.filter(tenant="sweep").update(expiry_time=int(time.time() * 1000))
            before = TokenAuditEvent.objects.filter(action="refreshed", tenant="sweep").count()
            last_pk = TokenAuditEvent.objects.aggregate(last=Max("pk"))["last"] or 0
            fake.reset_counters()
            command = [
                sys.executable,
                str(CODE / "manage.py"),
                "zoho_tokens",
                "refresh",
                "--expiring-within",
                "600",
                "--tenant",
                "sweep",
            ]
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    command + (["--shard", f"{i}/{workers}"] if sharded else []),
                    cwd=CODE,
                    env={**os.environ, **env, "PYTHONPATH": str(CODE)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for i in range(1, workers + 1)
            ]
            codes = [p.wait() for p in procs]
            seconds = time.perf_counter() - started
            audited = TokenAuditEvent.objects.filter(action="refreshed", tenant="sweep").count()
            # The sweep itself, without starting N interpreters (Django and the SDK take
            # about 1.2 CPU s each to import; long-lived Celery workers pay that once):
            # first to last refresh stored, from the audit rows' times.
            span = TokenAuditEvent.objects.filter(
                pk__gt=last_pk, action="refreshed", tenant="sweep"
            ).aggregate(first=Min("created_at"), last=Max("created_at"))
            sweep = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
            found[f"{workers} workers"] = {
                "seconds": round(seconds, 2),
                "first_to_last_refresh_seconds": round(sweep, 2),
                "refreshes_at_zoho": fake.counters["refresh"],
                "refreshed_rows_audited": audited - before,
                "exit_codes": codes,
            }
            print(
                f"sweep {due} due, {workers} workers: {seconds:.1f} s (first to last refresh "
                f"{sweep:.1f} s), "
                f"{fake.counters['refresh']} refreshes at Zoho, exit {codes}"
            )
        one = found["1 workers"]["seconds"]
        one_sweep = found["1 workers"]["first_to_last_refresh_seconds"]
        for value in found.values():
            value["speedup"] = round(one / value["seconds"], 2)
            span = value["first_to_last_refresh_seconds"]
            if span:
                value["sweep_speedup"] = round(one_sweep / span, 2)
        results["sweeps"] = {"due": due, "latency_seconds": latency, "sharded": sharded, **found}
    finally:
        fake.stop()
        ZohoToken.objects.filter(tenant="sweep")._raw_delete(ZohoToken.objects.db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    server = connection.vendor != "sqlite"
    parser.add_argument("--tokens", type=int, default=100_000 if server else 10_000)
    parser.add_argument("--audit", type=int, default=1_000_000 if server else 100_000)
    parser.add_argument("--only", default="admin,list,export,rotate,import,sweeps,prune")
    parser.add_argument("--due", type=int, default=1000, help="due tokens of the sweeps")
    parser.add_argument("--latency", type=float, default=0.1, help="the fake's refresh delay")
    parser.add_argument("--no-shards", action="store_true", help="code without --shard")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=5.0, help="one admin run this slow: stop")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--migrate", action="store_true", help="migrate the database first")
    parser.add_argument("--write", action="store_true", help=f"merge into {RESULTS.name}")
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    check_scratch()
    print(f"code under test: {Path(crypto.__file__).parent.parent}; database {database_name()}")
    if args.migrate:
        call_command("migrate", verbosity=0)
    if args.reseed or ZohoToken.objects.count() != args.tokens:
        seed(args.tokens, args.audit)
    results: dict = {
        "database": connection.vendor,
        "tokens": ZohoToken.objects.count(),
        "audit_rows": TokenAuditEvent.objects.count(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared (busy)",
        "load_average": os.getloadavg()[0],
    }
    only = set(args.only.split(","))
    if "admin" in only:
        bench_admin(results, args.repeat, args.timeout)
    if "list" in only:
        bench_list(results)
    if "export" in only:
        bench_export(results)
    if "rotate" in only:
        bench_rotate(results)
    if "import" in only:
        bench_import(results)
    if "sweeps" in only:
        bench_sweeps(results, args.due, args.latency, sharded=not args.no_shards)
    if "prune" in only:
        bench_prune(results)
    if args.write:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        # Sections add up: a run of some sections keeps the others' numbers of that label.
        data.setdefault(f"{args.label} {results['database']}", {}).update(results)
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
