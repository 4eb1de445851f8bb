"""Who the fake Zoho's tokens belong to: users (with their org) and grant codes on offer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GrantCode", "ZohoIdentity"]


@dataclass(frozen=True)
class ZohoIdentity:
    """A Zoho user and the org it belongs to (what a grant or refresh token speaks for)."""

    email: str
    zgid: str
    user_id: str
    org_id: str
    company: str

    @property
    def user_name(self) -> str:
        """The SDK's user name for this user, ``email:zgid`` (the store's ``user_name``)."""
        return f"{self.email}:{self.zgid}"

    @property
    def first_name(self) -> str:
        """Derived from the e-mail so different fake users are told apart in answers."""
        local = self.email.split("@", 1)[0]
        return local.replace(".", " ").replace("_", " ").title() or "Test"

    @property
    def last_name(self) -> str:
        return "Tester"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def minified(self) -> dict[str, Any]:
        """The ``{"name", "id", "email"}`` user reference records carry (Owner, Created_By)."""
        return {"name": self.full_name, "id": self.user_id, "email": self.email}

    def users_json(self) -> dict[str, Any]:
        """``GET /crm/v*/users?type=CurrentUser``: the SDK reads the e-mail from it."""
        user = {
            "id": self.user_id,
            "email": self.email,
            "full_name": self.full_name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "status": "active",
            "confirm": True,
            "role": {"name": "CEO", "id": "4000000026005"},
            "profile": {"name": "Administrator", "id": "4000000026011"},
        }
        info = {"per_page": 200, "count": 1, "page": 1, "more_records": False}
        return {"users": [user], "info": info}

    def org_json(self) -> dict[str, Any]:
        """``GET /crm/v*/org``: the SDK reads the org's ``zgid`` for the user name."""
        org = {
            "id": self.org_id,
            "zgid": self.zgid,
            "company_name": self.company,
            "primary_email": self.email,
            "country_code": "US",
            "currency": "US Dollar",
            "time_zone": "America/New_York",
        }
        return {"org": [org]}


@dataclass(frozen=True)
class GrantCode:
    """A fresh, unused grant code and whom it logs in (for demo pages and tests)."""

    code: str
    user: ZohoIdentity
    client_id: str | None
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "user_name": self.user.user_name,
            "email": self.user.email,
            "zgid": self.user.zgid,
            "org_id": self.user.org_id,
            "company": self.user.company,
            "client_id": self.client_id,
            "expires_in": self.expires_in,
        }
