"""The current tenant, for SaaS backends where every customer connects its own Zoho org.

``DjangoTokenStore()`` without an explicit tenant scopes every call to ``current_tenant()``;
single-tenant installs never set it and use tenant ``""``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from zoho_tokens.conf import zoho_settings

_current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar(
    "zoho_tokens_tenant", default=""
)


def current_tenant() -> str:
    return _current_tenant.get()


def _as_tenant(tenant: object) -> str:
    """Tenants are strings; resolvers may return a primary key (``42`` becomes ``"42"``)."""
    return "" if tenant is None else str(tenant)


@contextmanager
def tenant_context(tenant: str | int | None) -> Iterator[str]:
    """``with tenant_context("acme"):`` runs the block as tenant ``acme`` (None: default).

    A ``ContextVar``: each thread and each asyncio task sees its own tenant.
    """
    value = _as_tenant(tenant)
    token = _current_tenant.set(value)
    try:
        yield value
    finally:
        _current_tenant.reset(token)


class TenantMiddleware:
    """Sets the current tenant per request from ``ZOHO_TOKENS["TENANT_RESOLVER"]``.

    The resolver is a dotted path to a callable taking the request and returning the tenant
    (a string or a primary key; None or "" for the default tenant). Put the middleware after
    ``AuthenticationMiddleware`` so the resolver can read ``request.user``. The tenant is
    also set as ``request.zoho_tenant``.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        resolver = _resolver()
        tenant = _as_tenant(resolver(request) if resolver else None)
        request.zoho_tenant = tenant
        with tenant_context(tenant):
            return self.get_response(request)


def _resolver() -> Callable[[Any], str | None] | None:
    """``TENANT_RESOLVER``, imported once by the settings object (not on every request)."""
    return zoho_settings.TENANT_RESOLVER
