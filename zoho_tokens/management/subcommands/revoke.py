"""``zoho_tokens revoke``: revoke at Zoho, then delete here (the admin's revoke action).

When Zoho cannot be reached the row is kept, so the revocation can be retried: deleting
only locally would leave a working refresh token at Zoho that nobody can see any more.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.management.cli import confirmed, describe
from zoho_tokens.models import ZohoToken
from zoho_tokens.outcomes import Status, line, summary

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
    found = list(ZohoToken.objects.filter(pk__in=ids))
    labels = [services.label(row) for row in found]
    question = f"Revoke {len(found)} token(s) at Zoho and delete them here?"
    if found and not confirmed(command, options, labels, verb="revoke", question=question):
        return 1
    report = services.revoke_tokens(ids, source=AuditSource.COMMAND)
    for outcome in report.outcomes:
        (command.stdout if outcome.ok else command.stderr).write(line(outcome))
    done = report.count(Status.REVOKED, Status.DELETED)
    command.stdout.write(summary("revoke", [(done, "revoked"), (report.failed, "failed")]))
    return 1 if report.failed else 0
