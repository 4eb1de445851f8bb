"""Access tokens for code that calls Zoho's APIs itself: ``access_token`` (and, in the package
root so that its first use imports nothing on the event loop, ``aaccess_token``).

Most code that talks to Zoho does not use the CRM SDK: it calls REST endpoints (CRM, COQL,
Books, Desk...) with ``requests`` or ``httpx``. This module hands such code the stored access
token with the store's guarantees: refreshed ahead of expiry through the same single-flight
refresh and backoff as the SDK path (``zoho_tokens.refresh``), and refreshed once, across
workers, when Zoho rejects a token before its hour (``refresh_rejected``, used by
``zoho_tokens.http.ZohoAuth`` on HTTP 401 ``INVALID_TOKEN``).

The hot path is the store's: one cached-SQL lookup (``store.lookup``) and a decryption, no
ORM query building. The async variants run the database work in a thread
(``sync_to_async``), so an event loop never waits on the database or on another worker's
refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Q

from zoho_tokens import refresh
from zoho_tokens.connections import heal
from zoho_tokens.datacenters import access_token_may_go_to, host_of
from zoho_tokens.exceptions import (
    ConfigurationError,
    NoConnection,
    RefreshFailed,
    ScopeMissingError,
    TokenInvalidError,
    TokenStoreError,
)
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import lookup
from zoho_tokens.tenancy import current_tenant

__all__ = [
    "aaccess_token_for",
    "access_token",
    "access_token_for",
    "arefresh_rejected",
    "check_scopes",
    "refresh_rejected",
]

CONNECT_HINT = "connect one with the 'Connect Zoho CRM' page or 'manage.py zoho_login'"


def access_token(
    user_name: str | None = None,
    tenant: str | None = None,
    scopes: Iterable[str] | None = None,
) -> str:
    """The access token of ``tenant``'s Zoho user ``user_name``, refreshed ahead if needed.

    ``tenant`` defaults to the current tenant; ``user_name`` (``"<email>:<org zgid>"``) may
    be left out when the tenant has exactly one connection. Use it as
    ``{"Authorization": f"Zoho-oauthtoken {access_token()}"}``; ``zoho_tokens.http.ZohoAuth``
    does that and also recovers from a token Zoho rejects early.

    Raises ``NoConnection`` when there is no such connection and ``TokenStoreError`` for one
    that cannot be used (marked invalid, refresh refused: the message says what to do).
    """
    tenant = current_tenant() if tenant is None else tenant
    return heal(lambda: _access_token(user_name, tenant, None, scopes))


def access_token_for(
    url: str,
    user_name: str | None = None,
    tenant: str | None = None,
    scopes: Iterable[str] | None = None,
) -> str:
    """``access_token``, after checking that ``url`` may receive it: a Zoho API host of the
    token's data center, ``API_DOMAIN`` or ``API_HOSTS``; else ``ConfigurationError``
    (code ``untrusted_host``), and nothing is refreshed or sent."""
    tenant = current_tenant() if tenant is None else tenant
    return heal(lambda: _access_token(user_name, tenant, url, scopes))


async def aaccess_token_for(
    url: str,
    user_name: str | None = None,
    tenant: str | None = None,
    scopes: Iterable[str] | None = None,
) -> str:
    """``access_token_for`` for async code, run in a thread."""
    tenant = current_tenant() if tenant is None else tenant
    return await sync_to_async(access_token_for, thread_sensitive=True)(
        url, user_name, tenant, scopes
    )


def refresh_rejected(rejected: str, user_name: str | None = None, tenant: str | None = None) -> str:
    """A usable access token after Zoho rejected ``rejected`` (HTTP 401 ``INVALID_TOKEN``).

    If the stored token is no longer ``rejected``, another worker has already refreshed it:
    that one is returned and Zoho is not asked. Otherwise the token is refreshed once across
    workers (``refresh.refresh_token(rejected=True)``: the others wait for the new token),
    respecting any backoff. Zoho caps live access tokens per refresh token, so a token can
    die before its hour; this is how a caller recovers without a storm of refreshes.
    """
    tenant = current_tenant() if tenant is None else tenant
    return heal(lambda: _refresh_rejected(rejected, user_name, tenant))


async def arefresh_rejected(
    rejected: str, user_name: str | None = None, tenant: str | None = None
) -> str:
    """``refresh_rejected`` for async code, run in a thread."""
    tenant = current_tenant() if tenant is None else tenant
    return await sync_to_async(refresh_rejected, thread_sensitive=True)(rejected, user_name, tenant)


# -- the work ---------------------------------------------------------------------------------


def find(tenant: str, user_name: str | None) -> Any:
    """The tenant's stored row for ``user_name`` (or its only one), via the store's cached SQL.

    Tenant and user name are compared exactly in Python (see ``zoho_tokens.collation``).
    """
    if user_name is not None:
        found = [r for r in lookup(tenant, Q(user_name=user_name)) if r.user_name == user_name]
        if not found:
            raise NoConnection(
                f"tenant {tenant!r} has no Zoho connection for {user_name[:255]!r}: {CONNECT_HINT}"
            )
        return found[0]
    found = lookup(tenant, Q())[:2]
    if not found:
        raise NoConnection(f"tenant {tenant!r} has no Zoho connection: {CONNECT_HINT}")
    if len(found) > 1:
        raise NoConnection(
            f"tenant {tenant!r} has several Zoho connections: pass user_name to say which"
        )
    return found[0]


def _access_token(
    user_name: str | None, tenant: str, url: str | None, scopes: Iterable[str] | None
) -> str:
    row = find(tenant, user_name)
    if scopes:
        check_scopes(row, scopes)
    if url is not None and not access_token_may_go_to(url, row.api_domain):
        raise ConfigurationError(
            f"refusing to send the Zoho access token of token {row.pk} to "
            f"{host_of(url)[:100]}: not a Zoho API host of the token's data center; add it "
            "to ZOHO_TOKENS['API_HOSTS'] if it is yours (a proxy)",
            code="untrusted_host",
        )
    if refresh.needs_refresh(row) and not (refresh.backing_off(row) and refresh.still_valid(row)):
        row = refresh.ensure_fresh(ZohoToken.objects.get(pk=row.pk))
    return _usable(row)


def check_scopes(row: Any, scopes: Iterable[str]) -> None:
    """Raise ``ScopeMissingError`` when ``row``'s stored scopes lack any of ``scopes``.

    Scopes compare case-insensitively, as Zoho treats them. A connection whose scopes are
    unknown ("": stored before they were recorded, or by the SDK's own exchange) passes:
    Zoho itself will say if a scope is missing.
    """
    stored = {s.lower() for s in str(getattr(row, "scope", "") or "").split(",") if s}
    if not stored:
        return
    missing = [s for s in dict.fromkeys(scopes) if s and s.lower() not in stored]
    if missing:
        raise ScopeMissingError(
            f"the Zoho connection {row.user_name} (tenant {row.tenant!r}) lacks the "
            f"scope(s) {', '.join(missing)}: connect it again with a grant that carries "
            "them (add them to ZOHO_TOKENS['SCOPES'] for the connect page, or give "
            "'manage.py zoho_login' a grant token made with them)",
            missing,
        )


def _usable(row: Any) -> str:
    token = row.access_token
    if not token:
        raise TokenStoreError(
            f"Zoho token {row.pk} ({row.user_name}) has no access token yet: connect this "
            "user again, or let the SDK exchange its grant token first"
        )
    if not refresh.still_valid(row) and not getattr(row, "has_refresh_token", True):
        raise TokenStoreError(
            f"the access token of Zoho token {row.pk} ({row.user_name}) has expired and "
            "there is no refresh token to renew it: connect this user again"
        )
    return str(token)


def _refresh_rejected(rejected: str, user_name: str | None, tenant: str) -> str:
    row = ZohoToken.objects.get(pk=find(tenant, user_name).pk)
    if row.access_token != rejected:
        return _usable(refresh.ensure_fresh(row))  # another worker has refreshed it
    if row.invalid_reason:
        raise TokenInvalidError(
            f"Zoho token {row.pk} ({row.user_name}) is invalid (Zoho: {row.invalid_reason}); "
            "connect this user again"
        )
    if not row.has_refresh_token or not row.client_id:
        raise TokenInvalidError(
            f"Zoho rejected the access token of token {row.pk} ({row.user_name}) and there is "
            "no refresh token to get another: connect this user again"
        )
    fresh = refresh.refresh_token(row, rejected=True)
    if fresh.access_token == rejected:
        raise RefreshFailed(
            f"Zoho rejected the access token of token {row.pk} ({row.user_name}) and no new "
            "one could be obtained; try again later",
            reason="rejected",
        )
    return _usable(fresh)
