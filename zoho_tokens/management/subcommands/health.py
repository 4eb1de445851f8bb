"""``zoho_tokens health``: are the Zoho connections usable? Exit 0 ok, 1 degraded, 2 critical.

The exit codes follow monitoring plugins (Nagios, Icinga, Sensu), so an uptime monitor or a
cron ``|| alert`` can run it as it is; the report is ``zoho_tokens.health.check``.
"""

from __future__ import annotations

import json
from typing import Any

from zoho_tokens import health

HELP = (
    "Check the stored Zoho connections; exit 0 ok, 1 degraded (backing off, expiring without "
    "a refresh token, lacking a scope in SCOPES: reconnect needed), 2 a connection needs a "
    "person (invalid, unreadable)."
)


def add_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", help="only this tenant ('' for the default tenant)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def handle(command: Any, options: dict[str, Any]) -> int:
    report = health.check(options.get("tenant"))
    if options.get("json"):
        command.stdout.write(json.dumps(report.as_json(), indent=2))
        return report.exit_code
    command.stdout.write(report.summary())
    for item in report.attention:
        who = f"{item.user_name or item.token_id}" + (
            f" (tenant {item.tenant})" if item.tenant else ""
        )
        command.stdout.write(f"  {item.status}: {who}, token {item.token_id}: {item.reason}")
    if report.truncated:
        command.stdout.write("  ... and more: see the admin's 'needs attention' filter")
    return report.exit_code
