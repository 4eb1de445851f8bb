"""``manage.py zoho_tokens <subcommand>``: list, refresh, revoke, purge, rotate-keys, import,
export, prune-audit, health.

Each subcommand lives in ``zoho_tokens/management/subcommands/<name>.py`` and defines
``HELP``, ``add_arguments(parser)`` and ``handle(command, options) -> int`` (the exit code).
This module only parses and dispatches; the work is in ``zoho_tokens.services``.

With django-tenants, a schema without zoho_tokens' tables (the public schema when zoho_tokens
is a tenant app) is skipped with exit code 0, and ``--all-schemas`` runs the subcommand in
every schema, one schema's failure not stopping the others
(``zoho_tokens.management.all_tenants``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from zoho_tokens.management import all_tenants
from zoho_tokens.management.cli import database_error_message
from zoho_tokens.tenancy import installed_here, schema_name

PACKAGE = "zoho_tokens.management.subcommands"
SUBCOMMANDS = {
    "list": "list_",
    "refresh": "refresh",
    "revoke": "revoke",
    "purge": "purge",
    "rotate-keys": "rotate_keys",
    "import": "import_",
    "export": "export",
    "prune-audit": "prune_audit",
    "health": "health",
}


def _module(name: str) -> Any:
    """The subcommand's module (``name`` is one of ``SUBCOMMANDS``: argparse refused any
    other). An import error inside a subcommand (a missing dependency of its own) surfaces as
    what it is, never as "no such subcommand"."""
    return importlib.import_module(f"{PACKAGE}.{SUBCOMMANDS[name]}")


class Command(BaseCommand):
    help = "Inspect and manage stored Zoho OAuth tokens (see '<subcommand> --help')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all-schemas",
            action="store_true",
            help="django-tenants: run the subcommand in every schema; a failing schema does not "
            "stop the others, and the exit code is 1 if any failed",
        )
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        for name in SUBCOMMANDS:
            module = _module(name)
            child = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(child)

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["subcommand"]
        module = _module(name)
        if options.get("all_schemas"):
            code = all_tenants.run_in_every_schema(self, name, lambda: self._run(module, options))
        else:
            code = self._run(module, options)
        if code:
            sys.exit(code)

    def _run(self, module: Any, options: dict[str, Any]) -> int:
        """The subcommand in the current schema; a schema without zoho_tokens' tables is
        skipped (exit 0)."""
        if not installed_here():
            self.stdout.write(f"zoho_tokens is not installed in schema {schema_name()}, skipped")
            return 0
        try:
            return module.handle(self, options) or 0
        except DatabaseError as exc:
            # One line for every subcommand; the driver's message may quote values.
            self.stderr.write(database_error_message(exc))
            return 1
