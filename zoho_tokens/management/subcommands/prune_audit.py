"""``zoho_tokens prune-audit``: delete audit rows older than the retention period."""

from __future__ import annotations

import argparse
from typing import Any

from zoho_tokens import services
from zoho_tokens.management.cli import describe, progress_bar

HELP = (
    "Delete audit rows older than AUDIT_RETENTION_DAYS (default 400) or --days, in short "
    "batches; --dry-run counts them."
)

EPILOG = """\
examples:
  manage.py zoho_tokens prune-audit --dry-run    how many rows would go
  manage.py zoho_tokens prune-audit              delete rows older than AUDIT_RETENTION_DAYS
  manage.py zoho_tokens prune-audit --days 90    keep 90 days this time

Run it daily from your scheduler (project/recipes). Each batch deletes at most a few
thousand rows in its own transaction, so it can run while the application writes."""


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return days


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument(
        "--days", type=_days, metavar="DAYS", help="keep this many days (default: the setting)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would go; delete nothing"
    )


def handle(command: Any, options: dict[str, Any]) -> int:
    report = services.prune_audit(
        options.get("days"), dry_run=bool(options.get("dry_run")), progress=progress_bar()
    )
    if not report.enabled:
        command.stdout.write(
            "prune-audit: retention is off (ZOHO_TOKENS['AUDIT_RETENTION_DAYS'] is None), "
            "nothing deleted; pass --days DAYS to prune once"
        )
        return 0
    cutoff = f"{report.cutoff:%Y-%m-%d %H:%M} UTC" if report.cutoff else "?"
    older = f"older than {report.days} days (before {cutoff})"
    if report.dry_run:
        command.stdout.write(f"prune-audit (dry run): {report.deleted} audit rows {older} would go")
    else:
        command.stdout.write(
            f"prune-audit: {report.deleted} audit rows {older} deleted in {report.batches} batches"
        )
    return 0
