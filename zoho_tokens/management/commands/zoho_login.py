"""``manage.py zoho_login``: turn a grant token from Zoho's API console into a stored connection.

Thin over ``services.exchange_grant``: it parses options, asks for the grant token with hidden
input when a person is at a terminal, and reports. Every failure is one line on stderr (cause
and fix) with exit code 1; no traceback, no secret echoed.
"""

from __future__ import annotations

import argparse
import json
from getpass import getpass
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.db import DatabaseError

from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import DATA_CENTERS, ENVIRONMENTS
from zoho_tokens.exceptions import ZohoTokensError, describe
from zoho_tokens.management.cli import (
    database_error_message,
    expiry_text,
    interactive,
    token_summary,
)
from zoho_tokens.models import ZohoToken
from zoho_tokens.tenancy import current_tenant

NO_GRANT_TOKEN = (
    "no grant token: pass --grant-token CODE (generate one in the Zoho API console, "
    "Self Client > Generate Code), or run without --no-input on a terminal to be asked for it"
)

EPILOG = """\
examples:
  python manage.py zoho_login
      asks for the grant token (hidden input); client id and secret come from
      ZOHO_TOKENS (environment ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET)
  python manage.py zoho_login --grant-token "$ZOHO_GRANT" --no-input --json
      for deploy scripts: never prompts, prints the result as JSON
  python manage.py zoho_login --data-center eu --tenant acme

Grant tokens are single-use and live 3 minutes by default. Logging in again as the same
Zoho user replaces that user's stored token. Exit code 0 on success, 1 on any failure.
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the examples in the epilog kept as written."""


class Command(BaseCommand):
    help = (
        "Exchange a grant token made in the Zoho API console (Self Client) for a stored\n"
        "Zoho CRM connection, which the SDK then finds by user name (<email>:<org zgid>)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = EPILOG
        parser.formatter_class = HelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grant-token",
            metavar="CODE",
            help="the grant token; asked for with hidden input when omitted on a terminal",
        )
        parser.add_argument("--client-id", metavar="ID", help="default: ZOHO_TOKENS['CLIENT_ID']")
        parser.add_argument(
            "--client-secret",
            metavar="SECRET",
            help="default: ZOHO_TOKENS['CLIENT_SECRET'] (prefer the setting: command lines "
            "are visible to other users of the machine)",
        )
        parser.add_argument(
            "--redirect-url", metavar="URL", help="default: ZOHO_TOKENS['REDIRECT_URL']"
        )
        parser.add_argument(
            "--data-center",
            metavar="DC",
            help=f"one of {', '.join(DATA_CENTERS)}; default: ZOHO_TOKENS['DATA_CENTER']",
        )
        parser.add_argument(
            "--environment",
            metavar="ENV",
            help=f"one of {', '.join(ENVIRONMENTS)}; default: ZOHO_TOKENS['ENVIRONMENT']",
        )
        parser.add_argument(
            "--accounts-url",
            metavar="URL",
            help="Zoho Accounts base URL, overriding the data center "
            "(default: ZOHO_TOKENS['ACCOUNTS_URL'])",
        )
        parser.add_argument(
            "--tenant",
            default=None,
            help="store the connection for this tenant (default: none; with django-tenants "
            "and TENANT_FROM_SCHEMA, the schema's tenant)",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="never prompt: fail if --grant-token is missing",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the result as JSON (tokens masked)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name, known in (("data_center", DATA_CENTERS), ("environment", ENVIRONMENTS)):
            value = options.get(name)
            if value and value.lower() not in known:
                flag = "--" + name.replace("_", "-")
                raise CommandError(
                    f"unknown Zoho {name.replace('_', ' ')} {value!r} in {flag}: "
                    f"use one of {', '.join(known)}",
                    returncode=1,
                )
        grant_token = (options.get("grant_token") or "").strip()
        if not grant_token:
            grant_token = self._ask_grant_token(options)
        try:
            row = services.exchange_grant(
                grant_token,
                client_id=options.get("client_id"),
                client_secret=options.get("client_secret"),
                redirect_url=options.get("redirect_url"),
                data_center=(options.get("data_center") or "").lower() or None,
                environment=(options.get("environment") or "").lower() or None,
                accounts_url=options.get("accounts_url"),
                tenant=current_tenant() if options.get("tenant") is None else options["tenant"],
                source=AuditSource.COMMAND,
            )
        except ZohoTokensError as exc:
            raise CommandError(describe(exc), returncode=1) from None
        except DatabaseError as exc:
            raise CommandError(database_error_message(exc), returncode=1) from None
        self._report(row, as_json=options["json"])

    def _ask_grant_token(self, options: dict[str, Any]) -> str:
        if not options.get("interactive", True) or not interactive():
            raise CommandError(NO_GRANT_TOKEN, returncode=1)
        try:
            value = getpass("Grant token (input hidden): ")
        except (EOFError, KeyboardInterrupt):
            raise CommandError("no grant token entered; nothing changed", returncode=1) from None
        value = (value or "").strip()
        if not value:
            raise CommandError(NO_GRANT_TOKEN, returncode=1)
        return value

    def _report(self, row: ZohoToken, *, as_json: bool) -> None:
        summary = token_summary(row)
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        self.stdout.write(self.style.SUCCESS(f"Connected {row.user_name}"))
        lines = [
            ("token id", row.pk),
            ("user name", row.user_name),
            ("tenant", row.tenant or "(default)"),
            ("api domain", row.api_domain),
            ("access token", summary["access_token"]),
            ("expires", expiry_text(row)),
            ("refresh token", summary["refresh_token"]),
        ]
        for key, value in lines:
            self.stdout.write(f"  {key + ':':<15}{value}")
