"""``zoho_tokens purge``: delete stored tokens locally by criteria; Zoho is not called.

Criteria are required (a bare ``purge`` deletes nothing) and combine with AND, so adding a
criterion can only narrow what goes.
"""

from __future__ import annotations

import argparse
from typing import Any

from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.management.cli import confirmed, describe
from zoho_tokens.models import TokenStatus
from zoho_tokens.outcomes import Status, summary

HELP = (
    "Delete stored tokens locally (no call to Zoho) by criteria: --status, --invalid, "
    "--older-than, --all; --dry-run lists what would go."
)

EPILOG = """\
examples:
  manage.py zoho_tokens purge --invalid --dry-run        list tokens Zoho rejected
  manage.py zoho_tokens purge --invalid --yes            delete them
  manage.py zoho_tokens purge --status incomplete --yes  rows with no refresh token, no user
  manage.py zoho_tokens purge --older-than 90 --yes      not saved or refreshed in 90 days
  manage.py zoho_tokens purge --all --tenant acme --yes  every token of tenant acme

--status is the STATUS column of 'list' and the admin's status filter (the same rule);
repeat it to select several. --status, --invalid and --older-than combine with AND.
Purged tokens stay valid at Zoho until they expire or are revoked there; use 'revoke' to
cut a connection off."""


def _days(value: str) -> int:
    days = int(value)
    if days < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return days


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument(
        "--invalid", action="store_true", help="same as --status invalid (Zoho rejected them)"
    )
    parser.add_argument(
        "--status",
        action="append",
        choices=TokenStatus.values,
        metavar="STATUS",
        help=f"tokens in this status ({', '.join(TokenStatus.values)}); repeatable",
    )
    parser.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="tokens not saved or refreshed for DAYS days",
    )
    parser.add_argument("--all", action="store_true", help="every token (see --tenant)")
    parser.add_argument("--tenant", help="only this tenant ('' for the default tenant)")
    parser.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def handle(command: Any, options: dict[str, Any]) -> int:
    selection = services.PurgeSelection(
        invalid=bool(options.get("invalid")),
        older_than_days=options.get("older_than"),
        everything=bool(options.get("all")),
        tenant=options.get("tenant"),
        statuses=tuple(options.get("status") or ()),
    )
    if problem := selection.problem():
        command.stderr.write(problem)
        return 1
    matched = selection.rows()
    if options.get("dry_run"):
        for row in matched:
            command.stdout.write(f"would purge {services.label(row)}")
        command.stdout.write(f"purge (dry run): {len(matched)} would be deleted, nothing changed")
        return 0
    if not matched:
        command.stdout.write("purge: 0 tokens matched, nothing deleted")
        return 0
    question = f"Delete {len(matched)} token(s) here (Zoho is not told)?"
    labels = [services.label(row) for row in matched]
    otherwise = " (or --dry-run to see what would go)"
    if not confirmed(
        command, options, labels, verb="purge", question=question, otherwise=otherwise
    ):
        return 1
    report = services.purge(selection, source=AuditSource.COMMAND)
    command.stdout.write(summary("purge", [(report.count(Status.PURGED), "deleted")]))
    return 0
