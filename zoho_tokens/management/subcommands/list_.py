"""``zoho_tokens list``: what is stored, with status and expiry; tokens masked."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from zoho_tokens.management.cli import expiry_text, token_summary
from zoho_tokens.models import ZohoToken

HELP = "List stored Zoho tokens: id, user name, tenant, api domain, status, expiry."

COLUMNS = ("ID", "USER NAME", "TENANT", "API DOMAIN", "STATUS", "ACCESS TOKEN EXPIRES")


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", help="only this tenant ('' for the default tenant)")
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list instead of a table (masked)"
    )


def handle(command: Any, options: dict[str, Any]) -> int:
    rows = ZohoToken.objects.with_status().order_by("tenant", "user_name", "id")
    if options.get("tenant") is not None:
        rows = rows.for_tenant(options["tenant"])
    rows = list(rows)
    statuses = Counter(row.status() for row in rows)
    summary = f"{len(rows)} token{'s' if len(rows) != 1 else ''}" + (
        " (" + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) + ")"
        if rows
        else ""
    )
    if options.get("json"):
        command.stdout.write(json.dumps([token_summary(row) for row in rows], indent=2))
        command.stderr.write(summary)
        return 0
    table = [COLUMNS] + [
        (
            row.pk,
            row.user_name or "-",
            row.tenant or "-",
            row.api_domain or "-",
            row.status() + (f" ({row.invalid_reason})" if row.invalid_reason else ""),
            expiry_text(row),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(COLUMNS))]
    if rows:
        for line in table:
            command.stdout.write(
                "  ".join(
                    str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
    command.stdout.write(summary)
    return 0
