"""Keep the Zoho CRM Python SDK's OAuth tokens in the Django database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["aaccess_token", "access_token"]

if TYPE_CHECKING:
    from zoho_tokens.tokens import aaccess_token, access_token


def __getattr__(name: str) -> Any:
    """``zoho_tokens.access_token`` / ``aaccess_token``, imported on first use: importing the
    package stays cheap and needs no settings (``zoho_tokens.tokens`` needs the app registry).
    """
    if name in __all__:
        from zoho_tokens import tokens

        return getattr(tokens, name)
    raise AttributeError(f"module 'zoho_tokens' has no attribute {name!r}")
