"""Who may connect Zoho CRM through the web flow, and for which tenant.

A connection made for a tenant is what ``use_zoho(tenant=...)`` and every SDK call of that
tenant then run as, so connecting is an administrator's act, not any member's:

- ``CONNECT_PERMISSION`` (default ``zoho_tokens.add_zohotoken``, the permission the admin's
  "Connect with a grant token" needs too): a permission name, or a callable
  ``(request, tenant) -> bool`` for projects whose tenant roles live elsewhere.
- The default tenant ``""``: with a ``TENANT_RESOLVER``, a user it maps to no tenant is
  refused instead of connecting into the default tenant, unless ``ALLOW_DEFAULT_TENANT`` is
  True. Without a resolver the default tenant is the only one and is allowed.
- With tenants (``TENANT_RESOLVER`` or ``TENANT_FROM_SCHEMA``) a permission name is not
  enough: Django's permissions are global (with django-tenants they live in the public
  schema), so a user allowed for one tenant would be allowed for every tenant's host. Only
  a callable ``(request, tenant)`` can say yes per tenant; with a permission name (or None)
  every connect is refused and system check E031 says why.

Every path that stores a grant asks ``connect_refusal``: the web flow's connect, its callback
(again, for the tenant bound to the state, since rights may have changed while the user was
at Zoho), and the admin's "Connect with a grant token" form.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from zoho_tokens import tenancy
from zoho_tokens.conf import zoho_settings

NO_TENANT = _(
    "Your account belongs to no tenant, so Zoho CRM cannot be connected for it. "
    "Ask an administrator."
)
NOT_ALLOWED = _("You are not allowed to connect Zoho CRM for this tenant. Ask an administrator.")
TENANT_BLIND = _(
    "Connecting Zoho CRM is switched off on this site: its CONNECT_PERMISSION cannot tell "
    "tenants apart. Ask an administrator (manage.py check explains)."
)


RATE_WINDOW = 60  # seconds
RATE_SESSION_KEY = "zoho_tokens_connects"
TOO_MANY = _(
    "Too many Zoho CRM connection attempts: at most %(limit)s per minute. "
    "Wait a minute, then start again from the Connect Zoho CRM page."
)


def connect_throttled(request: Any) -> bool:
    """Count this connect; True when the user or the session is over ``CONNECT_RATE_LIMIT``
    in the last minute (then it is not counted).

    Each connect can end in a grant exchange (the client secret posted to Zoho) and audit
    rows; the bound keeps a script from doing that hundreds of times. Per session in the
    session, per user in Django's default cache (a shared cache bounds all processes; a
    per-process one each process).
    """
    limit = zoho_settings.CONNECT_RATE_LIMIT
    if not limit or limit <= 0:
        return False
    now = time.time()
    session = getattr(request, "session", None)
    mine = _recent(session.get(RATE_SESSION_KEY) if session is not None else None, now)
    user_key = f"zoho_tokens:connects:{getattr(request.user, 'pk', '')}"
    theirs = _recent(cache.get(user_key), now)
    if len(mine) >= limit or len(theirs) >= limit:
        return True
    if session is not None:
        session[RATE_SESSION_KEY] = [*mine, now]
    cache.set(user_key, [*theirs, now], RATE_WINDOW)
    return False


def _recent(stamps: Any, now: float) -> list[float]:
    if not isinstance(stamps, list):
        return []
    return [t for t in stamps if isinstance(t, (int, float)) and now - t < RATE_WINDOW]


def tenants_in_use() -> bool:
    """The project has tenants: a ``TENANT_RESOLVER``, ``TENANT_FROM_SCHEMA``, or django-tenants
    with zoho_tokens per schema while users and permissions are shared (one set for every
    tenant's host)."""
    if zoho_settings.TENANT_RESOLVER is not None or zoho_settings.TENANT_FROM_SCHEMA:
        return True
    return tenancy.permissions_shared_across_schemas()


def tenant_blind(permission: Any) -> bool:
    """A ``CONNECT_PERMISSION`` that cannot depend on the tenant: a name, or None (anyone)."""
    return not callable(permission)


def default_tenant_allowed() -> bool:
    """``ALLOW_DEFAULT_TENANT``, defaulting to "only when there is no tenant resolver"."""
    allowed = zoho_settings.ALLOW_DEFAULT_TENANT
    if allowed is None:
        return zoho_settings.TENANT_RESOLVER is None and not zoho_settings.TENANT_FROM_SCHEMA
    return bool(allowed)


def may_connect(request: Any, tenant: str) -> bool:
    """``CONNECT_PERMISSION`` for this request's user and ``tenant``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    permission = zoho_settings.CONNECT_PERMISSION
    if permission is None:
        return True
    if callable(permission):
        return bool(permission(request, tenant))
    return bool(user.has_perm(str(permission)))


def connect_refusal(request: Any, tenant: Any) -> Any:
    """Why ``request`` may not connect Zoho for ``tenant`` (a message), or None: the one rule.

    A tenant that is not a string (a resolver's ``False``, an object) is no tenant.
    """
    if not isinstance(tenant, str):
        return NO_TENANT
    if tenants_in_use() and tenant_blind(zoho_settings.CONNECT_PERMISSION):
        return TENANT_BLIND
    if tenant == "" and not default_tenant_allowed():
        return NO_TENANT
    if not may_connect(request, tenant):
        return NOT_ALLOWED
    return None
