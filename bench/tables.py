"""The docs' benchmark tables, drawn from the ``bench/results-*.json`` files the benchmarks
write, so that no number in the docs is typed by hand.

A table in the docs (or a sentence of the README) sits between two comments that name it::

    <!-- bench-table: herd -->
    | store | calls | ... |
    <!-- /bench-table -->

``python bench/tables.py`` checks every such table against its results file (exit 1 and the
names of the tables that differ); ``python bench/tables.py --write`` redraws them after a
benchmark run. ``tests/test_docs.py`` runs the check, so a results file and the docs cannot
disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGION = re.compile(
    r"(<!-- bench-table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /bench-table -->)", re.S
)
DATABASES = (("postgresql", "PostgreSQL"), ("mysql", "MariaDB"), ("sqlite", "SQLite"))
HERD_ORDER = (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"), ("mysql", "MariaDB"))


def results(name: str) -> Any:
    return json.loads((ROOT / "bench" / f"results-{name}.json").read_text())


def number(value: float) -> str:
    """A figure as the docs print it: whole, rounded half up, with thousands separators."""
    return f"{int(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP)):,}"


def table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def herd() -> str:
    """bench_herd.py: 8 workers x 5 rounds through the real SDK, per store."""
    data = results("herd")
    rows = []
    for key, label in [
        *((f"DjangoTokenStore ({db})", f"DjangoTokenStore ({name})") for db, name in HERD_ORDER),
        ("SDK FileStore", "SDK FileStore"),
    ]:
        run = data[key]
        per_round = run["refreshes_per_round"]
        if set(per_round) == {1}:
            refreshes = f"{run['refresh_calls']} (1 per round)"
        else:
            refreshes = f"{run['refresh_calls']} ({', '.join(map(str, per_round))})"
        failed = str(run["failed_calls"])
        if run["errors"]:
            reasons = {message.rpartition(": ")[2] for message in run["errors"]}
            failed += " (" + ", ".join(f'"{reason}"' for reason in sorted(reasons)) + ")"
        rows.append([label, str(run["calls"]), refreshes, str(run["refused_throttled"]), failed])
    header = ["store", "calls", "refresh calls to Zoho", "refused (throttled)", "failed calls"]
    return table(header, ["---", "---:", "---:", "---:", "---:"], rows)


def store() -> str:
    """bench_store.py: median µs per call against the number of stored tokens (SQLite)."""
    stores = results("store")["stores"]
    rows = []
    for key, label in [
        ("DjangoTokenStore (sqlite)", "DjangoTokenStore (encrypted, decrypted)"),
        ("SDK FileStore", "SDK FileStore (CSV)"),
        ("Kaizen-style sqlite3", "Kaizen #192-style (connection per call, no index)"),
        ("SDK DBStore (MariaDB)", "SDK DBStore (MariaDB)"),
        (
            "sqlite3 floor (indexed, open connection)",
            "floor: one open sqlite3 connection, indexed select",
        ),
    ]:
        sizes = stores[key]
        finds = [number(sizes[size]["find_us"]) for size in ("10", "1000", "10000", "100000")]
        if key.startswith("DjangoTokenStore"):
            finds[-1] = f"**{finds[-1]}**"
        rows.append([label, *finds, number(sizes["100000"]["save_us"])])
    header = ["store", "find @10", "@1k", "@10k", "@100k", "save @100k"]
    return table(header, ["---", *["---:"] * 5], rows)


def floors() -> str:
    """bench_store.py --only django,driver: find_token against the raw driver's select."""
    data = results("store")
    rows = []
    for db, name in DATABASES:
        row = [name]
        for size in ("10", "1000", "10000"):
            row.append(number(data["stores"][f"DjangoTokenStore ({db})"][size]["find_us"]))
            row.append(number(data["stores"][f"driver floor ({db})"][size]["find_us"]))
            row.append(f"{data['find_over_floor'][db][size]:.2f}×")
        rows.append(row)
    header = [
        "database",
        "find_token @10",
        "floor",
        "ratio",
        "@1k",
        "floor",
        "ratio",
        "@10k",
        "floor",
        "ratio",
    ]
    return table(header, ["---", *["---:"] * 9], rows)


def herd_summary() -> str:
    """The README's one-sentence version of the herd table."""
    data = results("herd")
    ours, file_store = data["DjangoTokenStore (sqlite)"], data["SDK FileStore"]
    workers, rounds = ours["workers"], ours["rounds"]
    return (
        f"Measured ([performance](docs/explanation/performance.md)): {workers} workers through "
        f"{rounds} expiries make\n{ours['refresh_calls']} refresh calls to Zoho and "
        f"{ours['failed_calls'] or 'no'} failed call (the SDK's `FileStore`: "
        f"{file_store['refresh_calls']} calls, {file_store['refused_throttled']} throttled);\n"
        "`find_token` stays flat from 10 to 100,000 stored tokens.\n"
    )


def _signed(seconds: float) -> str:
    return f"{seconds:+.2f} s".replace("-", "\u2212")


def faults() -> str:
    """bench_faults.py --quick: issue 22's five faults, before (main at 2375b85) and after."""
    data = results("faults")
    before = data["before_issue22"]["runs"]
    b_sqlite, b_pg = before["sqlite (quick)"], before["postgres (quick)"]
    after = [data["runs"][f"{db} (quick)"] for db in ("sqlite", "mariadb", "postgres")]

    def each(draw: Callable[[dict[str, Any]], str], fault: str) -> list[str]:
        return [draw(run[fault]) if fault in run else "-" for run in after]

    def both(draw: Callable[[dict[str, Any]], str], fault: str) -> str:
        return f"SQLite {draw(b_sqlite[fault])} / PostgreSQL {draw(b_pg[fault])}"

    def per_expiry(c: dict[str, Any]) -> str:
        return ", ".join(map(str, c["refresh_requests_per_expiry"]))

    def expiry_error(c: dict[str, Any]) -> str:
        return ", ".join(_signed(e) for e in c["stored_expiry_error_s"])

    def backoff(c: dict[str, Any]) -> str:
        return f"{c['backoff_s_skewed']:.1f} s vs {c['backoff_s_correct']:.1f} s"

    def sweep(w: dict[str, Any]) -> str:
        skipped = re.search(r"(\d+) skipped", w["summary"])
        done = f"{w['healthy_refreshed']:,} of {w['healthy']:,}"
        if skipped and skipped[1] != "0":
            done += f" ({int(skipped[1]):,} skipped)"
        return f"{done}; {w['max_requests_per_token']}; {w['exit_code']}"

    def statement(t: dict[str, Any]) -> str:
        if "skipped" in t:
            return "-"
        return f"{t['failed_saves']} of {t['saves']}; {t['failed_finds']}; {t['leases_left_held']}"

    def grant(a: dict[str, Any]) -> str:
        g = a["invalid_grant"]
        return f"{g['requests']}; {'yes' if g['invalid'] else 'no'}; {g['failed_while_usable']}"

    def code_once(a: dict[str, Any]) -> str:
        c = a["invalid_code_once"]
        return f"{'invalid' if c['invalid'] else 'valid'}; {c['failed_while_usable']}"

    def slow(z: dict[str, Any]) -> str:
        return f"{z['issued']}; {z['stored']}; {z['issued_not_stored']}"

    skew = "One of 8 workers 60 s fast"
    rows = [
        [skew, "refresh requests per expiry", both(per_expiry, "clock_skew")],
        ["", "stored expiry minus Zoho's", both(expiry_error, "clock_skew")],
        [
            "",
            "backoff written after a Zoho 500: fast worker vs a correct one (5 s ± 20 %)",
            both(backoff, "clock_skew"),
        ],
        [
            "",
            "failed calls of the correct workers",
            both(lambda c: str(c["failed_correct_workers"]), "clock_skew"),
        ],
        [
            "Sweep: 2,000 tokens, 200 tenants, one reset at the 18th request, 10 % failing tenants",
            "healthy tokens refreshed; most requests for one token; exit code",
            f"SQLite {sweep(b_sqlite['sweep_reset'])}",
        ],
        [
            "PostgreSQL, `statement_timeout=50ms`",
            "failed saves; failed finds; leases left held",
            f"PostgreSQL {statement(b_pg['statement_timeout'])}",
        ],
        [
            "`invalid_grant` on every refresh (token usable 25 s more)",
            "requests; row marked invalid; failed calls while usable",
            both(grant, "zoho_answers"),
        ],
        [
            "one transient `invalid_code`, then success",
            "row at the end; failed calls while usable",
            both(code_once, "zoho_answers"),
        ],
        [
            "Zoho answers 1 s after the callers' timeout (`HTTP_TIMEOUT` 3 s), token expired",
            "access tokens issued; stored; issued but never stored",
            f"SQLite {slow(b_sqlite['slow_zoho'])}",
        ],
    ]
    draws = [
        (per_expiry, "clock_skew"),
        (expiry_error, "clock_skew"),
        (backoff, "clock_skew"),
        (lambda c: str(c["failed_correct_workers"]), "clock_skew"),
        (sweep, "sweep_reset"),
        (statement, "statement_timeout"),
        (grant, "zoho_answers"),
        (code_once, "zoho_answers"),
        (slow, "slow_zoho"),
    ]
    for row, (draw, fault) in zip(rows, draws, strict=True):
        row += each(draw, fault)
    header = ["Fault", "Figure", "Before", "After: SQLite", "After: MariaDB", "After: PostgreSQL"]
    return table(header, ["---"] * 6, rows)


def http() -> str:
    """bench_http.py (SQLite): access_token's hot path, aaccess_token's hop, the loop's stalls."""
    run = results("http")["sqlite"]
    hot, hop = run["hot_path"], run["async"]
    stall, first = run["stall_50_calls"], run["stall_first_call"]

    def ms(name: str) -> str:
        return f"{stall[name]['median_ms']:.1f} ms (worst {stall[name]['worst_ms']:.1f})"

    rows = [
        [
            "`access_token()`, per call",
            f"{hot['access_token_us']:.0f} µs",
            f"`find_token`: {hot['find_token_us']:.0f} µs (ratio {hot['ratio']:.2f}; goal 1.1)",
        ],
        [
            "`await aaccess_token()`, per call",
            f"{hop['aaccess_token_us']:.0f} µs",
            f"`access_token()`: {hop['access_token_us']:.0f} µs "
            f"(+{hop['overhead_us']:.0f} µs: the hop to asgiref's thread and back)",
        ],
        [
            "loop's longest stall: 50 concurrent `aaccess_token()` sharing one refresh",
            ms("refresh_ahead"),
            f"50 hops that do nothing: {ms('thread_hops')}; idle loop: {ms('idle')}",
        ],
        [
            "loop's longest stall: 50 `httpx.AsyncClient` requests through `ZohoAuth`, one refresh",
            ms("zohoauth"),
            f"the same requests with a fixed header: {ms('plain')}",
        ],
        [
            "loop's longest stall: a process's first `aaccess_token()`",
            f"{first['median_ms']:.1f} ms (worst {first['worst_ms']:.1f})",
            "the store's modules are imported in asgiref's thread",
        ],
    ]
    text = table(["figure", "measured", "against, in the same run"], ["---", "---:", "---"], rows)
    frozen = "after `gc.freeze()`" if run.get("gc_frozen") else "without `gc.freeze()`"
    return text + f"\nSQLite, load average {run['load_average']:.1f}; stalls {frozen}.\n"


TABLES: dict[str, Callable[[], str]] = {
    "herd": herd,
    "herd-summary": herd_summary,
    "store": store,
    "floors": floors,
    "faults": faults,
    "http": http,
}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def regions() -> Iterator[tuple[Path, re.Match[str]]]:
    for path in pages():
        for match in REGION.finditer(path.read_text()):
            yield path, match


def stale() -> list[str]:
    """``page: table`` for every docs table that differs from what its results file draws."""
    return [
        f"{path.relative_to(ROOT)}: {match['name']}"
        for path, match in regions()
        if match["name"] not in TABLES or TABLES[match["name"]]() != match["body"]
    ]


def write() -> list[Path]:
    changed = []
    for path in pages():
        text = path.read_text()
        new = REGION.sub(lambda m: m[1] + TABLES[m["name"]]() + m[4], text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="redraw the docs' tables")
    args = parser.parse_args(argv)
    if args.write:
        for path in write():
            print(f"redrew {path.relative_to(ROOT)}")
        return 0
    differing = stale()
    for name in differing:
        print(
            f"{name}: differs from its results file (python bench/tables.py --write)",
            file=sys.stderr,
        )
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
