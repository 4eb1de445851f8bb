"""What the fake accounts server remembers about grant codes, refresh and access tokens."""

from __future__ import annotations

import collections
import secrets
from dataclasses import dataclass, field

from zoho_tokens.testing.identities import ZohoIdentity

__all__ = ["SCOPE", "AccessToken", "Grant", "RefreshToken", "client_matches", "zoho_token"]

SCOPE = "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"


def zoho_token() -> str:
    """Return a random value shaped like Zoho's tokens: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


@dataclass
class Grant:
    identity: ZohoIdentity
    client_id: str | None
    client_secret: str | None
    created: float
    used: bool = False
    scope: str = SCOPE


@dataclass
class RefreshToken:
    identity: ZohoIdentity
    client_id: str | None
    client_secret: str | None
    revoked: bool = False
    scope: str = SCOPE
    issued_at: collections.deque[float] = field(default_factory=collections.deque)
    #: Why it stopped working: "" while live, "revoked" (the revoke endpoint or a person),
    #: "limit" (Zoho's 20 refresh tokens per user and client: a newer one deleted it).
    gone: str = ""


@dataclass
class AccessToken:
    refresh_token: str
    expires_at: float
    revoked: bool = False


def client_matches(
    want_id: str | None, want_secret: str | None, got_id: str, got_secret: str
) -> bool:
    """None registered credentials mean "any client"; otherwise both must match."""
    if want_id is not None and want_id != got_id:
        return False
    return want_secret is None or want_secret == got_secret
