"""Build the header yourself (another HTTP library, a webhook relay, ...)."""

import zoho_tokens


def zoho_headers(tenant: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {zoho_tokens.access_token(tenant=tenant)}"}


async def azoho_headers(tenant: str | None = None) -> dict[str, str]:
    token = await zoho_tokens.aaccess_token(tenant=tenant)  # in an async view or task
    return {"Authorization": f"Zoho-oauthtoken {token}"}
