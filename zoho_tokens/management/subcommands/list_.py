"""``zoho_tokens list``: what is stored, with status and expiry; tokens masked."""

from __future__ import annotations

import json
import sys
import textwrap
from collections import Counter
from typing import Any

from django.db.models import Count, Max
from django.db.models.functions import Length

from zoho_tokens.management.cli import expiry_text, progress_bar, token_summary
from zoho_tokens.models import TokenStatus, ZohoToken, now_ms

HELP = "List stored Zoho tokens: id, user name, tenant, api domain, status, expiry, scopes."

#: Rows read per round trip.
READ_CHUNK = 2000
#: The expiry column's width: streamed rows cannot be measured first ("2026-12-07 20:00 UTC
#: (in 59 minutes)"); longer values only shift that row's scopes.
EXPIRY_WIDTH = 40

#: What the table reads of a row (its status comes from ``with_status()``'s annotation).
TABLE_FIELDS = ("id", "user_name", "tenant", "api_domain", "invalid_reason", "expiry_time", "scope")

COLUMNS = ("ID", "USER NAME", "TENANT", "API DOMAIN", "STATUS", "ACCESS TOKEN EXPIRES", "SCOPES")


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", help="only this tenant ('' for the default tenant)")
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list instead of a table (masked)"
    )


def handle(command: Any, options: dict[str, Any]) -> int:
    """Streams: rows are read in chunks and written as they come, so memory stays flat at
    100k tokens; the column widths come from one aggregate query first."""
    tenant = options.get("tenant")
    rows = ZohoToken.objects.with_status().order_by("tenant", "user_name", "id")
    if tenant is not None:
        rows = rows.for_tenant(tenant)
    sizes = rows.order_by().aggregate(
        count=Count("pk"),
        id=Max(Length("id")),
        user_name=Max(Length("user_name")),
        tenant=Max(Length("tenant")),
        api_domain=Max(Length("api_domain")),
        reason=Max(Length("invalid_reason")),
    )
    total = sizes["count"]
    statuses: Counter[str] = Counter()
    progress = progress_bar() if not _is_terminal(sys.stdout) else None
    if options.get("json"):
        command.stdout.write("[", ending="")
        # exactly(): a loose collation's other tenants (ACME for acme) are not listed.
        for n, row in enumerate(rows.exactly(tenant), 1):
            statuses[row.status()] += 1
            item = textwrap.indent(json.dumps(token_summary(row), indent=2), "  ")
            command.stdout.write(("\n" if n == 1 else ",\n") + item, ending="")
            _tick(progress, n, total)
        command.stdout.write("\n]" if statuses else "]")
        command.stderr.write(_summary(sum(statuses.values()), statuses))
        return 0
    widths = [
        max(len(COLUMNS[0]), sizes["id"] or 0),
        max(len(COLUMNS[1]), sizes["user_name"] or 1),
        max(len(COLUMNS[2]), sizes["tenant"] or 1),
        max(len(COLUMNS[3]), sizes["api_domain"] or 1),
        max(len(COLUMNS[4]), *(len(s) for s in TokenStatus.values), (sizes["reason"] or 0) + 10),
        EXPIRY_WIDTH,
        0,
    ]
    if total:
        _line(command, COLUMNS, widths)
    now = now_ms()
    # The table's columns only, as plain tuples: no secret is read or decrypted, no model
    # instance built (a third of the time at 100k tokens); the status is the annotation's.
    shown = rows.values_list(*TABLE_FIELDS, "token_status", named=True)
    for n, row in enumerate(shown.exactly(tenant), 1):
        status = row.token_status
        statuses[status] += 1
        cells = (
            row.id,
            row.user_name or "-",
            row.tenant or "-",
            row.api_domain or "-",
            status + (f" ({row.invalid_reason})" if row.invalid_reason else ""),
            expiry_text(row, now),
            row.scope or "-",
        )
        _line(command, cells, widths)
        _tick(progress, n, total)
    command.stdout.write(_summary(sum(statuses.values()), statuses))
    return 0


def _line(command: Any, cells: Any, widths: list[int]) -> None:
    text = "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True))
    command.stdout.write(text.rstrip())


def _summary(total: int, statuses: Counter[str]) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"{total} token{'s' if total != 1 else ''}" + (f" ({counts})" if total else "")


def _tick(progress: Any, done: int, total: int) -> None:
    if progress is not None and (done % READ_CHUNK == 0 or done == total):
        progress(done, total)


def _is_terminal(stream: Any) -> bool:
    """The table itself goes to a terminal: then no progress bar is drawn over it."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
