"""Keep the Zoho CRM Python SDK's OAuth tokens in the Django database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["aaccess_token", "access_token"]

if TYPE_CHECKING:
    from zoho_tokens.tokens import access_token


def __getattr__(name: str) -> Any:
    """``zoho_tokens.access_token``, imported on first use: importing the package stays cheap
    and needs no settings (``zoho_tokens.tokens`` needs the app registry).
    """
    if name == "access_token":
        from zoho_tokens import tokens

        return tokens.access_token
    raise AttributeError(f"module 'zoho_tokens' has no attribute {name!r}")


async def aaccess_token(
    user_name: str | None = None,
    tenant: str | None = None,
    scopes: Iterable[str] | None = None,
) -> str:
    """``access_token`` for async code: the database work (and any wait for another worker's
    refresh) runs in asgiref's thread, never on the event loop.

    Defined here, not imported lazily like ``access_token``: the first call would otherwise
    import the store's modules (tens of ms of CPU) on the loop's thread; they are imported
    in the thread too.
    """
    from asgiref.sync import sync_to_async

    from zoho_tokens.tenancy import current_tenant

    tenant = current_tenant() if tenant is None else tenant
    return await sync_to_async(_access_token, thread_sensitive=True)(user_name, tenant, scopes)


def _access_token(user_name: str | None, tenant: str, scopes: Iterable[str] | None) -> str:
    from zoho_tokens.tokens import access_token

    return access_token(user_name, tenant, scopes)
