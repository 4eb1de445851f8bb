"""Command-line presentation shared by ``zoho_login`` and the ``zoho_tokens`` subcommands.

Prompts, one-line error texts, expiry texts, masked summaries and the progress bar: how
results are shown, never which tokens are chosen or what counts as success (``services``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import textwrap
from typing import Any

from django.db import DatabaseError

from zoho_tokens import exceptions
from zoho_tokens.display import time_to_expiry
from zoho_tokens.models import ZohoToken


def interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    stdin = sys.stdin
    try:
        return bool(stdin is not None and stdin.isatty())
    except (AttributeError, ValueError):
        return False


def confirm(command: Any, question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal; only ``y``/``yes`` confirms."""
    command.stdout.write(f"{question} [y/N] ", ending="")
    command.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def confirmed(
    command: Any,
    options: dict[str, Any],
    labels: list[str],
    *,
    verb: str,
    question: str,
    otherwise: str = "",
) -> bool:
    """Whether a destructive subcommand may go on: ``--yes``, or a person at a terminal who
    saw ``labels`` and answered y. Otherwise it says why on one line (``otherwise``: what
    else to try) and the subcommand exits 1 with nothing changed."""
    if options.get("yes"):
        return True
    if not interactive():
        command.stderr.write(
            f"refusing to {verb} without confirmation: no terminal to ask on, pass --yes"
            + otherwise
        )
        return False
    for label in labels:
        command.stdout.write(f"  {label}")
    if not confirm(command, question):
        command.stdout.write(f"{verb}: cancelled, nothing changed")
        return False
    return True


def database_error_message(exc: DatabaseError) -> str:
    """``describe``'s line for a database failure (class and driver code, never the driver's
    text: it may quote values) and what to do about it in a command."""
    return (
        f"database error: {exceptions.describe(exc)}; check DATABASE_URL and run "
        "'python manage.py migrate' if the zoho_tokens tables do not exist"
    )


def expiry_iso(expiry_ms: int | None) -> str | None:
    if expiry_ms is None:
        return None
    moment = dt.datetime.fromtimestamp(expiry_ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="seconds")


def expiry_text(row: Any, now_ms: int | None = None) -> str:
    """``2025-05-01T10:00:00+00:00 (in 59 minutes)``, ``... (3 minutes ago)`` or ``unknown``
    (``row``: anything with an ``expiry_time``, a token or a row of ``values_list``)."""
    if row.expiry_time is None:
        return "unknown"
    ahead, span = time_to_expiry(row.expiry_time, now_ms)
    span = span.replace("\xa0", " ")  # Django's non-breaking space: plain text in a terminal
    relative = f"in {span}" if ahead else f"{span} ago"
    return f"{expiry_iso(row.expiry_time)} ({relative})"


def token_summary(row: ZohoToken) -> dict[str, Any]:
    """What the commands may show about a token: no secret, tokens masked."""
    left = row.seconds_left()
    return {
        "id": row.pk,
        "user_name": row.user_name,
        "tenant": row.tenant,
        "api_domain": row.api_domain,
        "client_id": row.client_id,
        "status": row.status(),
        "invalid_reason": row.invalid_reason or None,
        "scopes": row.scope.split(",") if row.scope else None,
        "expiry_time": row.expiry_time,
        "expires_at": expiry_iso(row.expiry_time),
        "expires_in_minutes": None if left is None else round(left / 60),
        "access_token": row.masked("access_token"),
        "refresh_token": row.masked("refresh_token"),
    }


def describe(parser: Any, help_text: str, epilog: str) -> None:
    """Give a subcommand's ``--help`` a wrapped description and examples kept as written."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = textwrap.fill(help_text, 79)
    parser.epilog = epilog


def progress_bar() -> Any:
    """A ``progress(done, total)`` callback drawing a bar on stderr, or None off a terminal."""
    stream = sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return None

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return progress
