"""``manage.py zoho_tokens --all-schemas <subcommand>`` (django-tenants): one sweep, every schema.

django-tenants' own ``all_tenants_command`` runs a command once per schema in a loop that ends
at the first command exiting non-zero, and gives the wrapped command no way to know it is in
that loop (no option, attribute or API: the only tells are the call stack and ``sys.argv``).
So the sweep is ours, over django-tenants' documented API (the tenant model and
``schema_context``): every schema runs, a schema's failure is reported and held back, and the
command exits 1 at the end if any schema failed. Schemas without zoho_tokens' tables (the
public schema when zoho_tokens is a tenant app) are skipped with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from zoho_tokens.tenancy import schema_name, tenant_schemas


def schemas() -> list[str]:
    """Every schema of django-tenants' tenant model, by name (the public one included)."""
    if schema_name() is None:
        raise CommandError(
            "--all-schemas needs django-tenants (ENGINE 'django_tenants.postgresql_backend')"
        )
    return tenant_schemas()


def run_in_every_schema(command: Any, subcommand: str, run: Callable[[], int]) -> int:
    """``run()`` in each schema (its exit code); 1 if any schema failed, else 0."""
    names = schemas()  # first: without django-tenants it is a one-line error, not an import
    from django_tenants.utils import schema_context

    failed: list[str] = []
    for schema in names:
        command.stdout.write(f"schema {schema}:")
        with schema_context(schema):
            code = run()
        if code:
            failed.append(schema)
            command.stderr.write(
                f"schema {schema}: zoho_tokens {subcommand} failed (exit {code}); "
                "continuing with the next schema"
            )
    if not failed:
        return 0
    command.stderr.write(
        f"zoho_tokens {subcommand} failed in {len(failed)} schema(s): {', '.join(failed)}"
    )
    return 1
