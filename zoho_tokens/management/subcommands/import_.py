"""``zoho_tokens import``: move tokens in from the SDK's FileStore, DBStore or a SQLite file.

Thin over ``zoho_tokens.importers``: parse, import, report. Nothing secret is printed: rows
are named by their position in the source, their id and their user name.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from zoho_tokens import importers
from zoho_tokens.management.cli import describe, progress_bar
from zoho_tokens.outcomes import Outcome, Status, summary

HELP = (
    "Import tokens from the SDK's FileStore CSV, its DBStore MySQL table or a SQLite file "
    "(Kaizen #192 sample), so nobody has to log in again. The source is only read."
)

EPILOG = """\
examples:
  manage.py zoho_tokens import /srv/app/sdk_tokens.txt --dry-run
  manage.py zoho_tokens import sqlite:///srv/app/zohooauth.db
  manage.py zoho_tokens import 'mysql://user:password@db:3306/zohooauth?table=oauthtoken'
  manage.py zoho_tokens import tokens.csv --tenant acme --on-conflict replace -v 2

A user name we already hold (in the tenant) is skipped, or overwritten with
--on-conflict replace. Source ids are kept unless another token has them. Rows
without any token are skipped; unreadable rows fail (exit 1), the rest is imported."""


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="FileStore CSV path, sqlite:///path/zohooauth.db, or "
        "mysql://user:password@host:port/db?table=oauthtoken",
    )
    parser.add_argument("--tenant", default="", help="import into this tenant (default: '')")
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would happen; write nothing"
    )
    parser.add_argument(
        "--on-conflict",
        choices=importers.ON_CONFLICT,
        default="skip",
        help="a user name already stored: skip the row (default) or replace ours",
    )
    # Django's -v is an option of 'zoho_tokens' itself (before the subcommand); accept it after
    # 'import' too. SUPPRESS keeps the parent's value when it is not given here.
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        default=argparse.SUPPRESS,
        help="2 lists every row",
    )


def _row_label(outcome: Outcome) -> str:
    row = outcome.row
    who = row.user_name or "no user name"
    source_id = f"id {row.source_id}, " if row.source_id else ""
    return f"{row.position} ({source_id}{who})"


def handle(command: Any, options: dict[str, Any]) -> int:
    verbosity = options.get("verbosity", 1)
    dry_run = options.get("dry_run", False)
    try:
        source = importers.open_source(options["source"])
        if verbosity >= 2:
            command.stdout.write(f"reading {source.description}: {len(source.rows)} rows")
        result = importers.import_source(
            source,
            tenant=options.get("tenant") or "",
            on_conflict=options.get("on_conflict") or "skip",
            dry_run=dry_run,
            progress=progress_bar(),
        )
    except importers.ImportSourceError as exc:
        command.stderr.write(f"import failed: {exc}")
        return 1

    for outcome in result.outcomes:
        text = f"{_row_label(outcome)}: {outcome.status.value}"
        if outcome.status in (Status.IMPORTED, Status.REPLACED):
            text += f" as {outcome.token_id}"
        if outcome.message:
            text += f" ({outcome.message})"
        if outcome.status == Status.FAILED:
            command.stderr.write(text)
        elif verbosity >= 2 or (verbosity and "new id" in outcome.message):
            command.stdout.write(text)

    why = Counter(o.message for o in result.outcomes if o.status == Status.SKIPPED)
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(why.items()))
    skipped = f"skipped ({reasons})" if reasons else "skipped"
    counts = [
        (result.count(Status.IMPORTED), "imported"),
        (result.count(Status.REPLACED), "replaced"),
        (result.count(Status.SKIPPED), skipped),
        (result.failed, "failed"),
    ]
    verb = "import (dry run)" if dry_run else "import"
    command.stdout.write(summary(verb, counts, note="nothing was written" if dry_run else ""))
    return 1 if result.failed else 0
