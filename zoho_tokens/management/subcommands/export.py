"""``zoho_tokens export``: write a FileStore CSV to roll back to the SDK's own store.

The one place secrets leave the database in clear, on explicit request: the file is
created with mode 0600, an existing file is only replaced with ``--force``, and a warning
says what the file holds.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens import importers
from zoho_tokens.management.cli import describe, progress_bar

HELP = (
    "Write a tenant's tokens to a CSV file the SDK's FileStore reads (to roll back). The "
    "file holds every secret in clear: mode 0600, never overwritten without --force."
)

EPILOG = """\
examples:
  manage.py zoho_tokens export /secure/sdk_tokens.txt
  manage.py zoho_tokens export /secure/acme.csv --tenant acme --force

Then: FileStore("/secure/sdk_tokens.txt") in Initializer.initialize(store=...).
Delete the file as soon as it is no longer needed."""


def add_arguments(parser: Any) -> None:
    describe(parser, HELP, EPILOG)
    parser.add_argument("path", metavar="PATH", help="the CSV file to write")
    parser.add_argument(
        "--tenant",
        default="",
        help="export this tenant (default: the default tenant ''); a FileStore has no tenants",
    )
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")


def handle(command: Any, options: dict[str, Any]) -> int:
    try:
        result = importers.export_tokens(
            options["path"],
            tenant=options.get("tenant") or "",
            force=bool(options.get("force")),
            progress=progress_bar(),
        )
    except importers.ExportError as exc:
        command.stderr.write(f"export failed: {exc}")
        return 1
    command.stderr.write(
        f"WARNING: {result.path} holds {result.count} Zoho OAuth connection(s) IN CLEAR TEXT: "
        "client secrets, refresh and access tokens. Anyone who can read it can use these "
        "Zoho CRM accounts. It was created with mode 0600; keep it off shared disks and "
        "backups, and delete it once the SDK's FileStore has taken over."
    )
    if result.non_numeric_ids:
        shown = ", ".join(result.non_numeric_ids[:10])
        command.stderr.write(
            f"warning: {len(result.non_numeric_ids)} id(s) are not integers ({shown}); the "
            "SDK's FileStore int()s every id when it saves a new token and would fail on "
            "this file. Renumber them before using it with FileStore."
        )
    command.stdout.write(f"export: {result.count} token(s) written to {result.path}")
    return 0
