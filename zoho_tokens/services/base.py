"""What every operation shares: how an outcome names a token."""

from __future__ import annotations

from zoho_tokens.models import ZohoToken


def label(row: ZohoToken) -> str:
    """``<id> (<user name>[, tenant <t>])``: how outcomes name a token."""
    tenant = f", tenant {row.tenant}" if row.tenant else ""
    return f"{row.pk} ({row.user_name or 'no user name'}{tenant})"
