"""``ZOHO_TOKENS["CONNECT_PERMISSION"]`` for a project with tenants.

With a ``TENANT_RESOLVER``, ``TENANT_FROM_SCHEMA`` or django-tenants sharing its users, a
permission name cannot tell tenants apart (check ``zoho_tokens.E031``): say per tenant who
may connect Zoho CRM for it. Here: members of the group ``zoho-admins:<tenant>``.

    ZOHO_TOKENS = {
        "TENANT_RESOLVER": "myproject.tenants.tenant_of_request",
        "CONNECT_PERMISSION": "myproject.tenants.may_connect_zoho",
    }
"""

from __future__ import annotations

from typing import Any


def may_connect_zoho(request: Any, tenant: str) -> bool:
    """True when ``request.user`` administers ``tenant``'s Zoho connection."""
    user = request.user
    if not user.is_authenticated or not tenant:
        return False
    return user.groups.filter(name=f"zoho-admins:{tenant}").exists()
