"""Who may connect Zoho CRM through the web flow, and for which tenant.

A connection made for a tenant is what ``use_zoho(tenant=...)`` and every SDK call of that
tenant then run as, so connecting is an administrator's act, not any member's:

- ``CONNECT_PERMISSION`` (default ``zoho_tokens.add_zohotoken``, the permission the admin's
  "Connect with a grant token" needs too): a permission name, or a callable
  ``(request, tenant) -> bool`` for projects whose tenant roles live elsewhere.
- The default tenant ``""``: with a ``TENANT_RESOLVER``, a user it maps to no tenant is
  refused instead of connecting into the default tenant, unless ``ALLOW_DEFAULT_TENANT`` is
  True. Without a resolver the default tenant is the only one and is allowed.

Both views ask; the callback asks again for the tenant bound to the state, since rights may
have changed while the user was at Zoho.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from zoho_tokens.conf import zoho_settings

NO_TENANT = _(
    "Your account belongs to no tenant, so Zoho CRM cannot be connected for it. "
    "Ask an administrator."
)
NOT_ALLOWED = _("You are not allowed to connect Zoho CRM for this tenant. Ask an administrator.")


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


def connect_refusal(request: Any, tenant: str) -> Any:
    """Why ``request`` may not connect Zoho for ``tenant`` (a message), or None."""
    if tenant == "" and not default_tenant_allowed():
        return NO_TENANT
    if not may_connect(request, tenant):
        return NOT_ALLOWED
    return None
