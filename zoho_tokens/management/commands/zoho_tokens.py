"""``manage.py zoho_tokens <subcommand>``: list, refresh, revoke, purge, rotate-keys, import,
export.

Each subcommand lives in ``zoho_tokens/management/subcommands/<name>.py`` and defines
``HELP``, ``add_arguments(parser)`` and ``handle(command, options) -> int`` (the exit code).
This module only parses and dispatches; the work is in ``zoho_tokens.services``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from zoho_tokens.management.cli import database_error_message

SUBCOMMANDS = {
    "list": "list_",
    "refresh": "refresh",
    "revoke": "revoke",
    "purge": "purge",
    "rotate-keys": "rotate_keys",
    "import": "import_",
    "export": "export",
}


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(f"zoho_tokens.management.subcommands.{SUBCOMMANDS[name]}")
    except ModuleNotFoundError:
        return None


class Command(BaseCommand):
    help = "Inspect and manage stored Zoho OAuth tokens (see '<subcommand> --help')."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        for name in SUBCOMMANDS:
            module = _module(name)
            if module is None:
                continue
            child = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(child)

    def handle(self, *args: Any, **options: Any) -> None:
        module = _module(options["subcommand"])
        if module is None:
            raise CommandError(f"unknown subcommand {options['subcommand']!r}")
        try:
            code = module.handle(self, options)
        except DatabaseError as exc:
            # One line for every subcommand; the driver's message may quote values.
            self.stderr.write(database_error_message(exc))
            code = 1
        if code:
            sys.exit(code)
