"""Token store latency: ``find_token`` by user name and ``save_token``, by number of tokens.

    .venv/bin/python bench/bench_store.py                      # SQLite scratch file in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_zt .venv/bin/python bench/bench_store.py
    .venv/bin/python bench/bench_store.py --sizes 10,1000 --only django,floor
    .venv/bin/python bench/bench_store.py --metrics-overhead   # find_token, metrics on vs off

Stores compared at 10, 1k, 10k and 100k stored tokens (median µs per call):

- ``django``: ``DjangoTokenStore`` on the database of ``project.settings`` (``DATABASE_URL``;
  default a scratch SQLite file in /tmp). Its tables are emptied: the database name must
  contain ``bench``. Values are encrypted at rest; the timing includes decryption.
- ``driver``: the floor of that same database: its raw driver (sqlite3, psycopg, MySQLdb) on
  one open connection running the very indexed select ``find_token`` runs; the ratio
  store / floor is printed and kept in ``find_over_floor`` (needs ``django`` in ``--only``).
- ``file``: the SDK's ``FileStore`` (a CSV file).
- ``kaizen``: a store written the way the Zoho Kaizen #192 sample is: a new sqlite3
  connection per call, lookup on an unindexed ``user_name`` column, plaintext.
- ``floor``: one open sqlite3 connection doing an indexed select (or update): the least any
  store can cost.
- ``dbstore``: the SDK's ``DBStore`` on MariaDB/MySQL, when reachable (scratch database
  ``zohooauth_bench``; ``--mysql`` to point elsewhere).

A store whose lookup would take more than ``--cap`` seconds at the next (10x) size is skipped
there.
Results are merged into ``bench/results-store.json`` (one entry per store and database, so
runs on several databases add up) and drawn to ``docs/bench-find-token.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results-store.json"
CHART = ROOT / "docs" / "bench-find-token.png"
SCRATCH_SQLITE = Path(tempfile.gettempdir()) / "zoho-tokens-bench.sqlite3"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{SCRATCH_SQLITE}")
os.environ.setdefault("ZOHO_TOKENS_LOG_LEVEL", "ERROR")
os.environ.setdefault("DEBUG", "False")  # as in production: no query log on the cursor
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # no default in project.settings

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature  # noqa: E402

from zoho_tokens import crypto  # noqa: E402
from zoho_tokens.models import SDK_COLUMNS, TokenAuditEvent, ZohoToken, token_db  # noqa: E402
from zoho_tokens.store import DjangoTokenStore  # noqa: E402

COLUMNS = list(SDK_COLUMNS)
FAR = str(int(time.time() * 1000) + 3600 * 1000 * 24 * 365)


def user(n: int) -> str:
    return f"user{n}@example.com:{700000000 + n}"


def tok(kind: str, n: int) -> str:
    return f"1000.{kind}{n:032x}.{n:032x}"


def plain_row(n: int) -> list[str]:
    return [
        str(1000000 + n),
        user(n),
        "1000.BENCHCLIENT",
        "bench-client-secret-0123456789abcdef",
        tok("r", n),
        tok("a", n),
        "",
        FAR,
        "https://example.com/cb",
        "https://www.zohoapis.com",
    ]


def probe(n: int) -> OAuthToken:
    return OAuthToken(user_signature=UserSignature(user(n)))


def update_token(n: int, i: int) -> OAuthToken:
    """What the SDK saves after a refresh: the user, a new access token and expiry."""
    token = probe(n)
    token.set_access_token(tok("x", i))
    token.set_expires_in(FAR)
    token.set_refresh_token(tok("r", n))
    token.set_client_id("1000.BENCHCLIENT")
    token.set_client_secret("bench-client-secret-0123456789abcdef")
    return token


def measure(call, picks: list[int], budget: float) -> tuple[float, int]:
    """Median µs of ``call(n)`` over ``picks``, stopping after ``budget`` seconds (min 5)."""
    times = []
    started = time.perf_counter()
    for i, n in enumerate(picks):
        t0 = time.perf_counter_ns()
        call(n, i)
        times.append(time.perf_counter_ns() - t0)
        if i >= 4 and time.perf_counter() - started > budget:
            break
    return statistics.median(times) / 1000, len(times)


# -- stores ----------------------------------------------------------------------------------


class DjangoBench:
    label = "DjangoTokenStore"

    def __init__(self) -> None:
        name = str(connection.settings_dict["NAME"])
        if "bench" not in name:
            sys.exit(f"refusing to empty {name!r}: use a scratch database whose name has 'bench'")
        call_command("migrate", verbosity=0)
        ZohoToken.objects.all().delete()
        TokenAuditEvent.objects.all().delete()
        self.label = f"DjangoTokenStore ({connection.vendor})"
        self.store = DjangoTokenStore()
        self.count = 0

    def grow(self, size: int) -> None:
        first_new, batch = self.count, []
        for n in range(self.count, size):
            values = dict(zip(COLUMNS, plain_row(n), strict=True))
            values["expiry_time"] = int(values["expiry_time"])
            values["id"] = str(10**15 + n)
            batch.append(ZohoToken(**values))
            if len(batch) == 5000:
                ZohoToken.objects.bulk_create(batch)
                batch = []
        if batch:
            ZohoToken.objects.bulk_create(batch)
        self.count = size
        # bulk_create runs pre_save: values are encrypted and the checksums are set.
        raw = ZohoToken.objects.filter(user_name=user(first_new)).values(
            "access_token", "access_token_checksum"
        )
        assert raw[0]["access_token"].startswith(crypto.PREFIX)
        assert raw[0]["access_token_checksum"] == crypto.checksum(tok("a", first_new))

    def find(self, n: int, i: int) -> None:
        assert self.store.find_token(probe(n)).get_access_token() is not None

    def save(self, n: int, i: int) -> None:
        self.store.save_token(update_token(n, i))


class DriverFloorBench:
    """``driver``: the floor of the Django database itself: its raw driver (sqlite3, psycopg,
    MySQLdb) on one open connection, running the very SQL ``find_token`` runs (the store's
    cached, indexed select of the user's row) and nothing else: no decryption, no SDK token.

    ``save`` is the least an update costs there: one indexed UPDATE and a commit. It shares
    the rows the ``django`` bench seeded (run both).
    """

    def __init__(self) -> None:
        from zoho_tokens import rows, store

        self.label = f"driver floor ({connection.vendor})"
        query, _ = rows.match(probe(0))
        assert query is not None
        store.lookup("", query)  # compiles and caches the lookup's SQL
        sql = store._sql_cache[(token_db(), query.connector, ("user_name",))]
        if connection.vendor == "sqlite":  # sqlite3 takes named parameters as :name
            sql = sql % {"p0": ":p0", "p1": ":p1"}
        self.sql = sql
        table = ZohoToken._meta.db_table
        self.update = self._placeholders(f"UPDATE {table} SET expiry_time = %s WHERE id = %s")
        self.conn = connection.get_new_connection(connection.get_connection_params())
        if connection.vendor == "sqlite":  # the same journal settings as the Django database
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.cursor = self.conn.cursor()
        self.count = 0

    @staticmethod
    def _placeholders(sql: str) -> str:
        return sql.replace("%s", "?") if connection.vendor == "sqlite" else sql

    def grow(self, size: int) -> None:
        self.count = size  # the django bench seeded the rows

    def find(self, n: int, i: int) -> None:
        self.cursor.execute(self.sql, {"p0": "", "p1": user(n)})
        assert self.cursor.fetchall()

    def save(self, n: int, i: int) -> None:
        self.cursor.execute(self.update, [int(FAR) + i, str(10**15 + n)])
        self.conn.commit()


class FileBench:
    label = "SDK FileStore"

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "tokens.csv"
        self.count = 0

    def grow(self, size: int) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows(plain_row(n) for n in range(size))
        self.store = FileStore(str(self.path))
        self.count = size

    def find(self, n: int, i: int) -> None:
        assert self.store.find_token(probe(n)) is not None

    def save(self, n: int, i: int) -> None:
        self.store.save_token(update_token(n, i))


class SqliteBench:
    """``kaizen``: connection per call, no index; ``floor``: one connection, indexed."""

    def __init__(self, workdir: Path, indexed: bool) -> None:
        self.indexed = indexed
        self.label = (
            "sqlite3 floor (indexed, open connection)" if indexed else "Kaizen-style sqlite3"
        )
        self.path = str(workdir / ("floor.sqlite3" if indexed else "kaizen.sqlite3"))
        db = sqlite3.connect(self.path)
        cols = ", ".join(f"{c} TEXT" for c in COLUMNS[1:])
        db.execute(f"CREATE TABLE oauthtoken (id TEXT PRIMARY KEY, {cols})")
        if indexed:
            db.execute("CREATE UNIQUE INDEX oauthtoken_user ON oauthtoken (user_name)")
        db.commit()
        db.close()
        self.conn = None
        if indexed:  # the same journal settings as the demo project's Django database
            self.conn = sqlite3.connect(self.path)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.count = 0

    def grow(self, size: int) -> None:
        db = sqlite3.connect(self.path)
        db.executemany(
            f"INSERT INTO oauthtoken VALUES ({','.join('?' * len(COLUMNS))})",
            (plain_row(n) for n in range(self.count, size)),
        )
        db.commit()
        db.close()
        self.count = size

    def _fill(self, token: OAuthToken, row: tuple) -> None:
        token.set_id(row[0])
        token.set_client_id(row[2])
        token.set_client_secret(row[3])
        token.set_refresh_token(row[4])
        token.set_access_token(row[5])
        token.set_expires_in(row[7])

    def find(self, n: int, i: int) -> None:
        token = probe(n)
        db = self.conn or sqlite3.connect(self.path)
        try:
            row = db.execute("SELECT * FROM oauthtoken WHERE user_name = ?", (user(n),)).fetchone()
        finally:
            if not self.indexed:
                db.close()
        self._fill(token, row)

    def save(self, n: int, i: int) -> None:
        token = update_token(n, i)
        db = self.conn or sqlite3.connect(self.path)
        try:
            cur = db.execute(
                "UPDATE oauthtoken SET access_token = ?, expiry_time = ? WHERE user_name = ?",
                (token.get_access_token(), token.get_expires_in(), user(n)),
            )
            assert cur.rowcount == 1
            db.commit()
        finally:
            if not self.indexed:
                db.close()


class DBStoreBench:
    label = "SDK DBStore (MariaDB)"

    def __init__(self, host: str, port: int, user_: str, password: str) -> None:
        import mysql.connector
        from zohocrmsdk.src.com.zoho.api.authenticator.store.db_store import DBStore

        self.connect = lambda: mysql.connector.connect(
            host=host, port=port, user=user_, password=password, database="zohooauth_bench"
        )
        admin = mysql.connector.connect(host=host, port=port, user=user_, password=password)
        cur = admin.cursor()
        cur.execute("DROP DATABASE IF EXISTS zohooauth_bench")
        cur.execute("CREATE DATABASE zohooauth_bench")
        admin.close()
        db = self.connect()
        cols = ", ".join(f"{c} varchar(255)" for c in COLUMNS[1:])
        db.cursor().execute(
            f"CREATE TABLE oauthtoken (id varchar(10) NOT NULL PRIMARY KEY, {cols})"
        )
        db.close()
        self.store = DBStore(
            host=host,
            database_name="zohooauth_bench",
            user_name=user_,
            password=password,
            port_number=str(port),
        )
        self.count = 0

    def grow(self, size: int) -> None:
        db = self.connect()
        cur = db.cursor()
        rows = [plain_row(n) for n in range(self.count, size)]
        for start in range(0, len(rows), 5000):
            cur.executemany(
                f"INSERT INTO oauthtoken VALUES ({','.join(['%s'] * len(COLUMNS))})",
                rows[start : start + 5000],
            )
        db.commit()
        db.close()
        self.count = size

    def find(self, n: int, i: int) -> None:
        assert self.store.find_token(probe(n)).get_access_token() is not None

    def save(self, n: int, i: int) -> None:
        self.store.save_token(update_token(n, i))


def mysql_reachable(host: str, port: int, user_: str, password: str) -> bool:
    try:
        import mysql.connector

        mysql.connector.connect(
            host=host, port=port, user=user_, password=password, connection_timeout=2
        ).close()
        return True
    except Exception:
        return False


# -- main --------------------------------------------------------------------------------------


def draw(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for label, entry in sorted(results["stores"].items()):
        points = sorted((int(s), v["find_us"]) for s, v in entry.items() if v.get("find_us"))
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stored tokens")
    ax.set_ylabel("find_token by user name, median µs per call")
    ax.set_title("Token store lookup latency (lower is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    CHART.parent.mkdir(exist_ok=True)
    fig.savefig(CHART, dpi=110)


def metrics_overhead(args: argparse.Namespace, size: int = 1000, rounds: int = 12) -> None:
    """find_token with the ``zoho_tokens_`` metrics on and off, in alternating rounds (so a
    neighbour's load on the shared cores hits both alike); the median of the round medians.
    Stored in ``metrics_overhead`` of ``bench/results-store.json`` per database vendor."""
    from zoho_tokens import metrics

    if not metrics.enabled():
        sys.exit("prometheus_client is not installed: pip install zoho-tokens[metrics]")
    installed = metrics._metrics
    bench = DjangoBench()
    bench.grow(size)
    rng = random.Random(23)
    off, on = [], []
    for _ in range(rounds):
        picks = [rng.randrange(size) for _ in range(args.lookups)]
        metrics._metrics = None
        off.append(measure(bench.find, picks, args.budget / rounds)[0])
        metrics._metrics = installed
        on.append(measure(bench.find, picks, args.budget / rounds)[0])
    off_us, on_us = statistics.median(off), statistics.median(on)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"stores": {}}
    results.setdefault("metrics_overhead", {})[connection.vendor] = {
        "tokens": size,
        "find_us_metrics_off": round(off_us, 1),
        "find_us_metrics_on": round(on_us, 1),
        "on_over_off": round(on_us / off_us, 3),
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(
        f"find_token at {size} tokens ({connection.vendor}): metrics off {off_us:.1f} µs, "
        f"on {on_us:.1f} µs, on/off {on_us / off_us:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1000,10000,100000")
    parser.add_argument("--only", default="django,driver,file,kaizen,floor,dbstore")
    parser.add_argument("--lookups", type=int, default=2000, help="find calls per size (max)")
    parser.add_argument("--saves", type=int, default=300, help="save calls per size (max)")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--cap", type=float, default=1.0, help="skip larger sizes above this")
    parser.add_argument("--mysql", default="root@127.0.0.1:3306", help="user[:pw]@host:port")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument(
        "--metrics-overhead",
        action="store_true",
        help="only compare find_token with Prometheus metrics on and off (needs [metrics])",
    )
    args = parser.parse_args()
    if args.metrics_overhead:
        metrics_overhead(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    only = set(args.only.split(","))

    workdir = Path(tempfile.mkdtemp(prefix="zoho-bench-"))
    benches = []
    if "django" in only:
        benches.append(DjangoBench())
    if "driver" in only:
        if "django" not in only:
            sys.exit("--only driver needs django too: it reads the rows the django bench seeds")
        benches.append(DriverFloorBench())
    if "file" in only:
        benches.append(FileBench(workdir))
    if "kaizen" in only:
        benches.append(SqliteBench(workdir, indexed=False))
    if "floor" in only:
        benches.append(SqliteBench(workdir, indexed=True))
    if "dbstore" in only:
        auth, hostport = args.mysql.rsplit("@", 1)
        my_user, _, my_pw = auth.partition(":")
        host, _, port = hostport.partition(":")
        if mysql_reachable(host, int(port or 3306), my_user, my_pw):
            benches.append(DBStoreBench(host, int(port or 3306), my_user, my_pw))
        else:
            print(f"note: no MariaDB/MySQL at {hostport}; SDK DBStore skipped")

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"stores": {}}
    results["machine"] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    rng = random.Random(192)
    skipped: dict[str, int] = {}
    print(f"{'store':44} {'tokens':>8} {'find µs':>10} {'save µs':>10}  (calls)")
    for size in sizes:
        for bench in benches:
            entry = results["stores"].setdefault(bench.label, {})
            if bench.label in skipped:
                entry.pop(str(size), None)
                continue
            bench.grow(size)
            picks = [rng.randrange(size) for _ in range(args.lookups)]
            find_us, nf = measure(bench.find, picks, args.budget)
            save_us, ns = measure(bench.save, picks[: args.saves], args.budget)
            entry[str(size)] = {"find_us": round(find_us, 1), "save_us": round(save_us, 1)}
            print(
                f"{bench.label:44} {size:>8} {find_us:>10.1f} {save_us:>10.1f}  ({nf}/{ns})",
                flush=True,
            )
            if find_us > args.cap * 1e6 / 10:
                # The next size is 10x larger: a lookup there would pass the cap.
                skipped[bench.label] = size
    for label, size in skipped.items():
        print(f"note: {label} skipped above {size} tokens (a call would take over {args.cap} s)")
    ratios = results.setdefault("find_over_floor", {})
    for bench in benches:
        if isinstance(bench, DriverFloorBench):
            vendor = connection.vendor
            store = results["stores"][f"DjangoTokenStore ({vendor})"]
            floor = results["stores"][bench.label]
            ratios[vendor] = {
                str(size): round(store[str(size)]["find_us"] / floor[str(size)]["find_us"], 2)
                for size in sizes
                if str(size) in store and str(size) in floor
            }
            print(f"find_token / driver floor on {vendor}: {ratios[vendor]}")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not args.no_chart:
        draw(results)
        print(f"wrote {RESULTS.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
