"""The ambient context of an operation: which tenant it runs as, who acts, through which path.

Context variables, so each thread and each asyncio task sees its own. ``tenancy`` decides
and checks the tenant (``tenant_context``, the middleware, ``TENANT_FROM_SCHEMA``) and keeps
it here; services, commands, the admin and views say who acts with ``origin``; ``rows``,
``audit`` and the signals read both from here. No Django setup needed to import it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditSource(models.TextChoices):
    """Through which path a change was made."""

    SDK = "sdk", _("SDK")
    ADMIN = "admin", _("admin")
    COMMAND = "command", _("command")
    WEB = "web", _("web")
    TASK = "task", _("task (scheduler)")


@dataclass(frozen=True)
class Origin:
    """Who caused the current operation and through which path."""

    source: AuditSource = AuditSource.SDK
    actor: Any = None
    # What the operation is, where the store cannot tell by itself ("import": saved rows
    # that carry an old grant token are not grant exchanges).
    operation: str = ""


_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("zoho_tokens_tenant", default="")
_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar(
    "zoho_tokens_origin",
    default=Origin(),  # noqa: B039 - frozen dataclass
)


def tenant() -> str:
    """The tenant set by ``tenancy.tenant_context`` ("" = the default tenant). Read it
    through ``tenancy.current_tenant``, which also honours ``TENANT_FROM_SCHEMA``."""
    return _tenant.get()


@contextmanager
def as_tenant(value: str) -> Iterator[str]:
    """Run the block as tenant ``value`` (already checked: ``tenancy.tenant_context``)."""
    token = _tenant.set(value)
    try:
        yield value
    finally:
        _tenant.reset(token)


def current_origin() -> Origin:
    return _origin.get()


@contextmanager
def origin(source: AuditSource | str, actor: Any = None, operation: str = "") -> Iterator[Origin]:
    """Tag every store operation in the block with ``source`` (an ``AuditSource``; its value
    is accepted too) and ``actor`` (an authenticated user, else None)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    value = Origin(source=AuditSource(source), actor=actor, operation=operation)
    token = _origin.set(value)
    try:
        yield value
    finally:
        _origin.reset(token)
