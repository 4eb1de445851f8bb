"""``manage.py zoho_tokens <subcommand>``: list, refresh, revoke, purge, rotate-keys, import,
export, prune-audit, health.

Each subcommand lives in ``zoho_tokens/management/subcommands/<name>.py`` and defines
``HELP``, ``add_arguments(parser)`` and ``handle(command, options) -> int`` (the exit code).
This module only parses and dispatches; the work is in ``zoho_tokens.services``.

With django-tenants, a schema without zoho_tokens' tables (the public schema when zoho_tokens
is a tenant app) is skipped with exit code 0, and under ``all_tenants_command`` one schema's
failure does not stop the other schemas (``zoho_tokens.management.all_tenants``).
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
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        for name in SUBCOMMANDS:
            module = _module(name)
            child = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(child)

    def handle(self, *args: Any, **options: Any) -> None:
        module = _module(options["subcommand"])
        schema = schema_name()
        if not installed_here():
            self.stdout.write(f"zoho_tokens is not installed in schema {schema}, skipped")
            code = 0
        else:
            try:
                code = module.handle(self, options)
            except DatabaseError as exc:
                # One line for every subcommand; the driver's message may quote values.
                self.stderr.write(database_error_message(exc))
                code = 1
        if schema is not None and all_tenants.wrapped():
            code = self._finish_schema(schema, options["subcommand"], code)
        if code:
            sys.exit(code)

    def _finish_schema(self, schema: str, subcommand: str, code: int) -> int:
        """Under ``all_tenants_command``: hold a failure back until every schema has run."""
        if code:
            self.stderr.write(
                f"schema {schema}: zoho_tokens {subcommand} failed (exit {code}); "
                "continuing with the next schema"
            )
        failed = all_tenants.finish_schema(schema, code)
        if not failed:
            return 0
        self.stderr.write(
            f"zoho_tokens {subcommand} failed in {len(failed)} schema(s): {', '.join(failed)}"
        )
        return 1
