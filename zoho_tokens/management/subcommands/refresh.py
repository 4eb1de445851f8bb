"""``zoho_tokens refresh``: refresh access tokens ahead of time, for cron or Celery beat.

Parses, calls ``services.refresh_tokens`` and prints its report; which tokens are tried and
when the sweep stops are decided there.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import services
from zoho_tokens.management.cli import describe, expiry_text

HELP = (
    "Refresh access tokens now or ahead of expiry (for cron / Celery beat); stops at the "
    "first token Zoho does not refresh, to respect Zoho's throttle."
)

EPILOG = """\
examples:
  manage.py zoho_tokens refresh 1745...123              refresh one token now
  manage.py zoho_tokens refresh --expiring-within 600   tokens expiring in the next 10 min
  manage.py zoho_tokens refresh --all --tenant acme     every token of tenant acme

With --all or --expiring-within, tokens already marked invalid are skipped (listed in the
summary; reconnect them with zoho_login or remove them with 'purge --invalid').
Exit code 1 when any selected token was not refreshed."""


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
    report = services.refresh_tokens(
        ids, expiring_within=within, tenant=options.get("tenant"), source="command"
    )
    for token_id in report.missing:
        command.stderr.write(f"{token_id}: no such token")
    for outcome in report.outcomes:
        if outcome.ok and outcome.row is not None:
            text = f"refreshed, access token expires {expiry_text(outcome.row)}"
            command.stdout.write(f"{outcome.label}: {text}")
        elif outcome.row is not None and "Zoho issued no access token" in outcome.message:
            text = f"{outcome.message}; the current one expires {expiry_text(outcome.row)}"
            command.stderr.write(f"{outcome.label}: {text}")
        else:
            command.stderr.write(f"{outcome.label}: {outcome.message}")
    for skipped in report.skipped:
        command.stdout.write(f"{skipped}: skipped (stopped after Zoho's refusal)")
    summary = (
        f"refresh: {report.refreshed} refreshed, {report.failed} failed, "
        f"{len(report.skipped)} skipped"
    )
    if report.invalid_not_tried:
        summary += (
            f", {report.invalid_not_tried} invalid not tried (reconnect them or 'purge --invalid')"
        )
    if report.stopped:
        summary += "; stopped early: Zoho did not issue an access token, try again later"
    command.stdout.write(summary)
    return 0 if report.ok else 1
