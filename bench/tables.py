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


TABLES: dict[str, Callable[[], str]] = {
    "herd": herd,
    "herd-summary": herd_summary,
    "store": store,
    "floors": floors,
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
