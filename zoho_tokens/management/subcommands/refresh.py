"""``zoho_tokens refresh``: refresh access tokens ahead of time, for cron or Celery beat.

Zoho issues at most 10 access tokens per refresh token in 10 minutes and answers
``Access Denied`` beyond that, so this stops at the first token Zoho did not refresh
(throttled, unreachable, timed out) instead of hammering Zoho with the rest.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Q

from zoho_tokens import services
from zoho_tokens.management.subcommands._common import (
    describe,
    expiry_text,
    label,
)
from zoho_tokens.models import ZohoToken

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


def _select(command: Any, options: dict[str, Any]) -> tuple[list[ZohoToken], list[str]] | None:
    ids: list[str] = options.get("ids") or []
    within = options.get("expiring_within")
    if ids and options.get("all"):
        command.stderr.write("give token ids or --all, not both")
        return None
    if not ids and not options.get("all") and within is None:
        command.stderr.write(
            "nothing selected: give token ids, --all, or --expiring-within SECONDS"
        )
        return None
    if within is not None and within < 0:
        command.stderr.write("--expiring-within must be 0 or more seconds")
        return None
    rows = ZohoToken.objects.all()
    if options.get("tenant") is not None:
        rows = rows.for_tenant(options["tenant"])
    # Named tokens are tried whatever their state; a sweep leaves invalid ones out.
    rows = rows.filter(pk__in=ids) if ids else rows.filter(invalid_reason="")
    if within is not None:
        limit = int(time.time() * 1000) + within * 1000
        rows = rows.filter(Q(expiry_time__isnull=True) | Q(expiry_time__lte=limit))
    found = list(rows.order_by("expiry_time", "id"))
    missing = [i for i in dict.fromkeys(ids) if i not in {row.pk for row in found}]
    return found, missing


def handle(command: Any, options: dict[str, Any]) -> int:
    selected = _select(command, options)
    if selected is None:
        return 1
    rows, missing = selected
    invalid_note = ""
    if not options.get("ids"):
        invalid = ZohoToken.objects.invalid()
        if options.get("tenant") is not None:
            invalid = invalid.for_tenant(options["tenant"])
        if count := invalid.count():
            invalid_note = f", {count} invalid not tried (reconnect them or 'purge --invalid')"
    refreshed = failed = skipped = 0
    for token_id in missing:
        command.stderr.write(f"{token_id}: no such token")
        failed += 1
    stopped = False
    for row in rows:
        if stopped:
            command.stdout.write(f"{label(row)}: skipped (stopped after Zoho's refusal)")
            skipped += 1
            continue
        ok, stop, message = _refresh_one(row)
        if ok:
            refreshed += 1
            command.stdout.write(f"{label(row)}: {message}")
        else:
            failed += 1
            command.stderr.write(f"{label(row)}: {message}")
        stopped = stop
    summary = f"refresh: {refreshed} refreshed, {failed} failed, {skipped} skipped{invalid_note}"
    if stopped:
        summary += "; stopped early: Zoho did not issue an access token, try again later"
    command.stdout.write(summary)
    return 1 if failed or skipped else 0


def _refresh_one(row: ZohoToken) -> tuple[bool, bool, str]:
    """Refresh one token: (refreshed, stop the run, message)."""
    before = (row.expiry_time, row.access_token_checksum)
    error: services.ServiceError | None = None
    try:
        services.refresh_now(row, source="command")
    except services.ServiceError as exc:
        error = exc
    # Judge by what is stored rather than by the message: the refresh layer keeps a
    # still-valid access token when Zoho refuses, without raising.
    current = ZohoToken.objects.filter(pk=row.pk).first()
    if current is None:
        return False, False, "deleted while refreshing"
    if error is None and (current.expiry_time, current.access_token_checksum) != before:
        return True, False, f"refreshed, access token expires {expiry_text(current)}"
    if current.invalid_reason:
        message = str(error) if error else f"invalid (Zoho: {current.invalid_reason})"
        return False, False, message
    if error is not None and error.code == "invalid":
        return False, False, str(error)
    if error is not None:
        return False, True, str(error)
    return (
        False,
        True,
        "not refreshed: Zoho issued no access token (throttled, unreachable or timed out: see "
        f"the zoho_tokens log); the current one expires {expiry_text(current)}",
    )
