"""``manage.py all_tenants_command zoho_tokens ...`` (django-tenants): one sweep, every schema.

django-tenants runs the wrapped command once per tenant schema in one loop, and that loop
ends at the first command that exits non-zero. So while it runs, a schema's failure is
reported and held back; when the last of the tenant schemas has run, the command exits 1 if
any of them failed. Schemas without zoho_tokens' tables (the public schema when zoho_tokens
is a tenant app) are skipped with a message and count as done.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

WRAPPER = "django_tenants.management.commands.all_tenants_command"


@dataclass
class Sweep:
    """The schemas one ``all_tenants_command`` run has been through, and those that failed."""

    seen: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)


_sweep = Sweep()


def wrapped() -> bool:
    """True when this command runs inside django-tenants' ``all_tenants_command``."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == WRAPPER:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _tenant_schemas() -> set[str]:
    from django_tenants.utils import get_public_schema_name, get_tenant_model

    schemas = set(get_tenant_model().objects.values_list("schema_name", flat=True))
    if "--no-public" in sys.argv:
        schemas.discard(get_public_schema_name())
    return schemas


def finish_schema(schema: str, code: int) -> list[str] | None:
    """Record ``schema``'s exit code; the failed schemas once every schema has run, else None.

    A schema seen twice means a new run has started (the previous one was interrupted).
    """
    if schema in _sweep.seen:
        _sweep.seen.clear()
        _sweep.failed.clear()
    _sweep.seen.add(schema)
    if code:
        _sweep.failed.append(schema)
    if not _tenant_schemas() <= _sweep.seen:
        return None
    failed = list(_sweep.failed)
    _sweep.seen.clear()
    _sweep.failed.clear()
    return failed
