"""A small Zoho Accounts client: exchange, refresh, revoke, current user. Always with timeouts.

Zoho answers errors with HTTP 200 and an ``error`` key; this module turns each answer into a
result or one of the ``ZohoError`` subclasses below, whose messages never contain a secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from zoho_tokens.conf import zoho_settings

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"


class ZohoError(Exception):
    """Base class: ``code`` is Zoho's error code (or ours), ``str()`` is one safe line."""

    code = "error"
    hint = ""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class InvalidGrant(ZohoError):
    code = "invalid_code"
    hint = (
        "grant tokens are single-use and live 3 minutes by default: generate a new one in "
        "the Zoho API console"
    )


class InvalidRefreshToken(ZohoError):
    code = "invalid_code"
    hint = "the connection was revoked or expired at Zoho: connect this user again"


class InvalidClient(ZohoError):
    code = "invalid_client"
    hint = "check the client id and client secret (and the data center they belong to)"


class Throttled(ZohoError):
    code = "Access Denied"
    hint = (
        "Zoho allows 10 access tokens per refresh token in 10 minutes: wait, and do not retry "
        "in a loop"
    )


class ZohoUnreachable(ZohoError):
    code = "network"
    hint = "check the network, the data center, or ACCOUNTS_URL"


class ZohoTimeout(ZohoUnreachable):
    code = "timeout"
    hint = "Zoho did not answer within HTTP_TIMEOUT seconds; try again later"


class UnexpectedAnswer(ZohoError):
    code = "unexpected"
    hint = "Zoho answered something this client does not understand"


@dataclass
class TokenResponse:
    """Zoho's answer to an exchange or refresh; its ``repr`` shows no token."""

    access_token: str = field(repr=False)
    expiry_time: int  # epoch milliseconds
    refresh_token: str | None = field(repr=False)
    api_domain: str | None


def _post(url: str, data: dict[str, Any] | None = None, params: dict[str, Any] | None = None):
    try:
        response = requests.post(
            url,
            data=data,
            params=params,
            timeout=zoho_settings.HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise ZohoTimeout(
            f"Zoho Accounts at {_host(url)} did not answer within {zoho_settings.HTTP_TIMEOUT} s"
        ) from None
    except requests.RequestException as exc:
        raise ZohoUnreachable(
            f"cannot reach Zoho Accounts at {_host(url)} ({type(exc).__name__})"
        ) from None
    return _json(response, url)


def _json(response: requests.Response, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise UnexpectedAnswer(
            f"Zoho at {_host(url)} answered HTTP {response.status_code} without JSON"
        ) from None
    if not isinstance(body, dict):
        raise UnexpectedAnswer(f"Zoho at {_host(url)} answered a JSON {type(body).__name__}")
    return body


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _error(body: dict[str, Any], *, refreshing: bool) -> ZohoError:
    error = str(body.get("error"))
    if error == "invalid_code":
        if refreshing:
            return InvalidRefreshToken("Zoho rejected the refresh token (Zoho: invalid_code)")
        return InvalidGrant("this grant token was already used or has expired (Zoho: invalid_code)")
    if error == "invalid_client" or error == "invalid_client_secret":
        return InvalidClient(f"Zoho does not know this client id/secret (Zoho: {error})", error)
    if error == "Access Denied":
        return Throttled("Zoho is throttling token requests (Zoho: Access Denied)")
    if error == "invalid_redirect_uri":
        return InvalidClient(
            "the redirect URL does not match the client's (Zoho: invalid_redirect_uri)", error
        )
    return UnexpectedAnswer(f"Zoho refused the request (Zoho: {error[:80]})", error[:80])


def _token_response(body: dict[str, Any], *, refreshing: bool) -> TokenResponse:
    if "error" in body:
        raise _error(body, refreshing=refreshing)
    if "access_token" not in body:
        raise UnexpectedAnswer("Zoho's answer has neither access_token nor error")
    try:
        seconds = int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        seconds = 3600
    if "expires_in_sec" not in body and seconds > 100000:  # old API: milliseconds
        seconds //= 1000
    return TokenResponse(
        access_token=str(body["access_token"]),
        expiry_time=int(time.time() * 1000) + seconds * 1000,
        refresh_token=body.get("refresh_token"),
        api_domain=body.get("api_domain"),
    )


def token_url(accounts_url: str) -> str:
    """Accept either the accounts base (``https://accounts.zoho.com``) or the token URL."""
    base = accounts_url.rstrip("/")
    return base if base.endswith(TOKEN_PATH) else base + TOKEN_PATH


def exchange_grant(
    accounts_url: str,
    *,
    code: str,
    client_id: str,
    client_secret: str,
    redirect_url: str | None = None,
) -> TokenResponse:
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
    }
    if redirect_url:
        data["redirect_uri"] = redirect_url
    return _token_response(_post(token_url(accounts_url), data=data), refreshing=False)


def refresh(
    accounts_url: str, *, refresh_token: str, client_id: str, client_secret: str
) -> TokenResponse:
    data = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return _token_response(_post(token_url(accounts_url), data=data), refreshing=True)


def revoke(accounts_url: str, *, refresh_token: str) -> bool:
    """True when Zoho confirmed; False when Zoho says the token is already invalid."""
    url = token_url(accounts_url) + "/revoke"
    body = _post(url, params={"token": refresh_token})
    if body.get("status") == "success":
        return True
    if body.get("error") in ("invalid_token", "invalid_code"):
        return False
    raise _error(body, refreshing=True)


def current_user_name(api_domain: str, access_token: str) -> str:
    """``"<email>:<org zgid>"``, from the CRM users and org APIs, as the SDK resolves it."""
    headers = {"Authorization": f"Zoho-oauthtoken {access_token}"}
    base = api_domain.rstrip("/")
    users = _get(f"{base}/crm/v8/users", headers, params={"type": "CurrentUser"})
    org = _get(f"{base}/crm/v8/org", headers)
    try:
        email = users["users"][0]["email"]
        zgid = org["org"][0]["zgid"]
    except (KeyError, IndexError, TypeError):
        raise UnexpectedAnswer("Zoho CRM's users/org answer has no email or zgid") from None
    return f"{email}:{zgid}"


def _get(url: str, headers: dict[str, str], params: dict[str, str] | None = None):
    try:
        response = requests.get(
            url, headers=headers, params=params, timeout=zoho_settings.HTTP_TIMEOUT
        )
    except requests.Timeout:
        raise ZohoTimeout(f"Zoho CRM at {_host(url)} did not answer in time") from None
    except requests.RequestException as exc:
        raise ZohoUnreachable(
            f"cannot reach Zoho CRM at {_host(url)} ({type(exc).__name__})"
        ) from None
    body = _json(response, url)
    if response.status_code == 401:
        raise UnexpectedAnswer(f"Zoho CRM refused the access token (Zoho: {body.get('code')})")
    if response.status_code >= 400:
        raise UnexpectedAnswer(
            f"Zoho CRM answered HTTP {response.status_code} ({body.get('code')})"
        )
    return body
