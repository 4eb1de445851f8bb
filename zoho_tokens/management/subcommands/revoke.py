"""``zoho_tokens revoke``: revoke at Zoho, then delete here (the admin's revoke action).

When Zoho cannot be reached the row is kept, so the revocation can be retried: deleting
only locally would leave a working refresh token at Zoho that nobody can see any more.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import services
from zoho_tokens.management.subcommands._common import (
    confirm,
    describe,
    interactive,
    label,
)
from zoho_tokens.models import ZohoToken

HELP = (
    "Revoke tokens at Zoho, then delete them here; a token Zoho cannot be reached for is "
    "kept (exit 1)."
)

EPILOG = """\
examples:
  manage.py zoho_tokens revoke 1745...123             asks for confirmation on a terminal
  manage.py zoho_tokens revoke 1745...123 1745...456 --yes

Without a terminal (cron, CI) --yes is required. Use 'purge' to delete locally only."""


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument("ids", nargs="+", metavar="ID", help="token ids to revoke")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def handle(command: Any, options: dict[str, Any]) -> int:
    ids = list(dict.fromkeys(options["ids"]))
    rows = {row.pk: row for row in ZohoToken.objects.filter(pk__in=ids)}
    missing = [token_id for token_id in ids if token_id not in rows]
    if rows and not options.get("yes"):
        if not interactive():
            command.stderr.write(
                "refusing to revoke without confirmation: no terminal to ask on, pass --yes"
            )
            return 1
        for row in rows.values():
            command.stdout.write(f"  {label(row)}")
        if not confirm(command, f"Revoke {len(rows)} token(s) at Zoho and delete them here?"):
            command.stdout.write("revoke: cancelled, nothing changed")
            return 1
    revoked = failed = 0
    for token_id in missing:
        command.stderr.write(f"{token_id}: no such token")
        failed += 1
    for token_id in ids:
        row = rows.get(token_id)
        if row is None:
            continue
        outcome = services.revoke(row, source="command")
        if outcome.ok:
            revoked += 1
            command.stdout.write(f"{label(row)}: {outcome.message}")
        else:
            failed += 1
            command.stderr.write(f"{label(row)}: {outcome.message}")
    command.stdout.write(f"revoke: {revoked} revoked, {failed} failed")
    return 1 if failed else 0
