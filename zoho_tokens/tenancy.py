"""The current tenant, for SaaS backends where every customer connects its own Zoho org.

``DjangoTokenStore()`` without an explicit tenant scopes every call to ``current_tenant()``;
single-tenant installs never set it and use tenant ``""``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.module_loading import import_string

_current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar(
    "zoho_tokens_tenant", default=""
)


def current_tenant() -> str:
    return _current_tenant.get()


@contextmanager
def tenant_context(tenant: str | None) -> Iterator[str]:
    """``with tenant_context("acme"):`` runs the block as tenant ``acme``."""
    token = _current_tenant.set(tenant or "")
    try:
        yield tenant or ""
    finally:
        _current_tenant.reset(token)


class TenantMiddleware:
    """Sets the current tenant per request from ``ZOHO_TOKENS["TENANT_RESOLVER"]``.

    The resolver is a dotted path to a callable taking the request and returning the tenant
    (a string, or None/"" for the default tenant).
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        resolver = _resolver()
        tenant = resolver(request) if resolver else ""
        request.zoho_tenant = tenant or ""
        with tenant_context(tenant):
            return self.get_response(request)


def _resolver() -> Callable[[Any], str | None] | None:
    from zoho_tokens.conf import zoho_settings

    path = zoho_settings.TENANT_RESOLVER
    if not path:
        return None
    return path if callable(path) else import_string(path)
