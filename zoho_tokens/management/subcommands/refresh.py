"""``zoho_tokens refresh``: refresh access tokens ahead of time, for cron or Celery beat.

Parses, calls ``services.refresh_tokens`` and prints its report; which tokens are tried and
when the sweep stops are decided there.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import exceptions, services
from zoho_tokens.context import AuditSource
from zoho_tokens.management.cli import describe, expiry_text
from zoho_tokens.outcomes import Outcome, Report, Status, line, summary

HELP = (
    "Refresh access tokens now or ahead of expiry (for cron / Celery beat). One token's "
    "failure does not stop the others; a token Zoho throttled is held back, and an "
    "unreachable accounts server stops only its own tokens."
)

EPILOG = """\
examples:
  manage.py zoho_tokens refresh 1745...123              refresh one token now
  manage.py zoho_tokens refresh --expiring-within 600   tokens expiring in the next 10 min
  manage.py zoho_tokens refresh --all --tenant acme     every token of tenant acme
  manage.py zoho_tokens refresh --expiring-within 600 --shard 2/4   worker 2 of 4

One line per token (refreshed and not due on stdout, the rest on stderr), then a summary.
Tokens marked invalid are never sent to Zoho, but reported on every run until they are
reconnected with zoho_login or removed with 'purge --invalid'.
Exit code 0 when every selected token was refreshed (or refreshed meanwhile by another
worker); 1 when any failed, was throttled, skipped, unreadable or invalid, or an id is
unknown."""


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument("ids", nargs="*", metavar="ID", help="token ids to refresh")
    parser.add_argument("--all", action="store_true", help="every token (see --tenant)")
    parser.add_argument(
        "--expiring-within",
        type=int,
        metavar="SECONDS",
        help="only tokens whose access token expires within SECONDS (or has expired)",
    )
    parser.add_argument("--tenant", help="only this tenant ('' for the default tenant)")
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="only share I of N (1 <= I <= N): run N workers, 1/N to N/N, to sweep in "
        "parallel without refreshing any token twice",
    )


def handle(command: Any, options: dict[str, Any]) -> int:
    ids: list[str] = options.get("ids") or []
    within = options.get("expiring_within")
    if ids and options.get("all"):
        command.stderr.write("give token ids or --all, not both")
        return 1
    if not ids and not options.get("all") and within is None:
        command.stderr.write(
            "nothing selected: give token ids, --all, or --expiring-within SECONDS"
        )
        return 1
    if within is not None and within < 0:
        command.stderr.write("--expiring-within must be 0 or more seconds")
        return 1
    try:
        shard = services.Shard.parse(options.get("shard"))
    except services.ServiceError as exc:
        command.stderr.write(exceptions.describe(exc))
        return 1
    report = services.refresh_tokens(
        ids,
        expiring_within=within,
        tenant=options.get("tenant"),
        source=AuditSource.COMMAND,
        shard=shard,
    )
    for outcome in report.outcomes:
        (command.stdout if outcome.ok else command.stderr).write(refresh_line(outcome))
    command.stdout.write(refresh_summary(report))
    return 0 if report.ok else 1


def refresh_line(outcome: Outcome) -> str:
    """``outcomes.line``, with the access token's expiry where there is one to tell."""
    row, status = outcome.row, outcome.status
    if status == Status.REFRESHED and row is not None:
        return f"{outcome.label}: refreshed, access token expires {expiry_text(row)}"
    text = line(outcome)
    if status in (Status.NOT_DUE, Status.THROTTLED) and row:
        text += f"; the current one expires {expiry_text(row)}"
    return text


def refresh_summary(report: Report) -> str:
    unreachable = ", ".join(report.unreachable)
    return summary(
        "refresh",
        [
            (report.count(Status.REFRESHED), "refreshed"),
            (report.failed, "failed"),
            (report.count(Status.SKIPPED), "skipped"),
        ],
        [
            (report.count(Status.NOT_DUE), "not due"),
            (report.count(Status.THROTTLED), "throttled"),
            (report.count(Status.UNREADABLE), "unreadable (see ENCRYPTION_KEYS)"),
            (
                report.count(Status.INVALID),
                "invalid (reconnect them with zoho_login or 'purge --invalid')",
            ),
        ],
        f"accounts server unreachable: {unreachable}, try again later" if unreachable else "",
    )
