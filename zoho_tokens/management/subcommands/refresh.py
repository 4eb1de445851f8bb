"""``zoho_tokens refresh``: refresh access tokens ahead of time, for cron or Celery beat.

Parses, calls ``services.refresh_tokens`` and prints its report; which tokens are tried and
when the sweep stops are decided there.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import exceptions, services
from zoho_tokens.management.cli import describe, expiry_text

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
        ids, expiring_within=within, tenant=options.get("tenant"), source="command", shard=shard
    )
    for token_id in report.missing:
        command.stderr.write(f"{token_id}: no such token")
    for outcome in report.outcomes:
        (command.stdout if outcome.ok else command.stderr).write(line(outcome))
    command.stdout.write(summary(report))
    return 0 if report.ok else 1


def line(outcome: services.RefreshOutcome) -> str:
    """``<id> (<user name>): <status>: <message>``, with the access token's expiry."""
    row, status = outcome.row, services.RefreshStatus(outcome.status)
    if status == services.RefreshStatus.REFRESHED and row is not None:
        return f"{outcome.label}: refreshed, access token expires {expiry_text(row)}"
    text = f"{outcome.label}: {status.value.replace('_', ' ')}: {outcome.message}"
    if status in (services.RefreshStatus.NOT_DUE, services.RefreshStatus.THROTTLED) and row:
        text += f"; the current one expires {expiry_text(row)}"
    return text


def summary(report: services.RefreshReport) -> str:
    text = (
        f"refresh: {report.refreshed} refreshed, {report.failed} failed, {report.skipped} skipped"
    )
    extra = {
        services.RefreshStatus.NOT_DUE: "not due",
        services.RefreshStatus.THROTTLED: "throttled",
        services.RefreshStatus.UNREADABLE: "unreadable (see ENCRYPTION_KEYS)",
        services.RefreshStatus.INVALID: "invalid (reconnect them with zoho_login or "
        "'purge --invalid')",
    }
    for status, words in extra.items():
        if report.count(status):
            text += f", {report.count(status)} {words}"
    if report.unreachable:
        text += f"; accounts server unreachable: {', '.join(report.unreachable)}, try again later"
    return text
