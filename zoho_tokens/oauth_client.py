"""The OAuth client for Zoho Accounts (Zoho's OAuth server, not your users' accounts).

Grant exchange, refresh, revoke, and the current CRM user's name; always with timeouts (the
SDK's own HTTP calls have none). Zoho answers errors with HTTP 200 and an ``error`` key; this
module turns each answer into a result or one of the ``ZohoError`` subclasses of
``zoho_tokens.exceptions``, whose messages never contain a secret.

Secrets travel only in POST bodies and headers, never in a URL. Errors are raised outside
the ``except`` blocks that caught the ``requests`` error, so none is chained to them (its
frames and its request hold the form), and the functions holding secrets are marked with
Django's ``sensitive_variables``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables

from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import GRANT_HINT, ZohoError, ZohoUnreachable

__all__ = [
    "TokenResponse",
    "ZohoError",
    "ZohoUnreachable",
    "current_user_name",
    "exchange_grant",
    "refresh",
    "revoke",
    "token_url",
]

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"


CONNECT_TIMEOUT = 3.0


def timeouts(read: float | None = None) -> tuple[float, float]:
    """(connect, read) seconds: ``HTTP_TIMEOUT`` (or ``read``) to read, at most 3 s to connect.

    Bounded so that a refresh fits in its lease (``refresh.lease_seconds``); a refresh's
    request reads longer in its own thread (``refresh.LATE_ANSWER_SECONDS``), its caller
    still waiting only ``HTTP_TIMEOUT``.
    """
    http_timeout = zoho_settings.HTTP_TIMEOUT
    return min(CONNECT_TIMEOUT, http_timeout), http_timeout if read is None else read


@dataclass
class TokenResponse:
    """Zoho's answer to an exchange or refresh; its ``repr`` shows no token."""

    access_token: str = field(repr=False)
    expiry_time: int  # epoch milliseconds
    refresh_token: str | None = field(repr=False)
    api_domain: str | None
    #: Seconds the access token lives, as Zoho said: a store computes the expiry on its own
    #: clock from this (``expiry_time`` is on this process's clock).
    lifetime_seconds: int = 3600
    scope: str = ""  # the scopes the grant carries, as Zoho names them ("" if not said)


@sensitive_variables("data")
def _post(url: str, data: dict[str, Any], *, read_timeout: float | None = None):
    """POST a form to Zoho Accounts. Secrets only ever go in the body, never in the URL
    (URLs end up in proxy and urllib3 debug logs)."""
    failure: ZohoError | None = None
    limits = timeouts(read_timeout)
    try:
        response = requests.post(url, data=data, timeout=limits, allow_redirects=False)
    except requests.Timeout:
        failure = ZohoUnreachable(
            f"Zoho Accounts at {_host(url)} did not answer within {limits[1]} s",
            ZohoUnreachable.TIMEOUT,
        )
    except requests.RequestException as exc:
        failure = ZohoUnreachable(
            f"cannot reach Zoho Accounts at {_host(url)} ({type(exc).__name__})"
        )
    if failure is not None:
        # Raised here, outside the except: the requests error (whose frames and request
        # hold the form) is not chained to it.
        raise failure
    return _json(response, url)


def _json(response: requests.Response, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if body is None:
        raise ZohoError(f"Zoho at {_host(url)} answered HTTP {response.status_code} without JSON")
    if not isinstance(body, dict):
        raise ZohoError(f"Zoho at {_host(url)} answered a JSON {type(body).__name__}")
    return body


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _error(body: dict[str, Any], *, refreshing: bool) -> ZohoError:
    error = str(body.get("error"))
    if error in ("invalid_code", "invalid_grant"):
        # On refresh both mean "this refresh token no longer works" (revoked, deleted as the
        # user's 21st, or never Zoho's); the refresher asks once more before believing it.
        if refreshing:
            return ZohoError(f"Zoho rejected the refresh token (Zoho: {error})", error)
        return ZohoError(
            f"this grant token was already used or has expired (Zoho: {error})", error, GRANT_HINT
        )
    if error == "invalid_client" or error == "invalid_client_secret":
        return ZohoError(f"Zoho does not know this client id/secret (Zoho: {error})", error)
    if error == "Access Denied":
        return ZohoError("Zoho is throttling token requests (Zoho: Access Denied)", error)
    if error == "invalid_redirect_uri":
        return ZohoError(
            "the redirect URL does not match the client's (Zoho: invalid_redirect_uri)",
            error,
            ZohoError.HINTS[ZohoError.INVALID_CLIENT],
        )
    return ZohoError(
        f"Zoho refused the request (Zoho: {error[:80]})",
        error[:80],
        ZohoError.HINTS[ZohoError.UNEXPECTED],
    )


def _lifetime_seconds(body: dict[str, Any]) -> int:
    """The access token's lifetime in seconds, from either of Zoho's two answer shapes.

    Old answers carry ``expires_in_sec`` (seconds) with ``expires_in`` in milliseconds, as the
    SDK's ``OAuthToken.get_token_expires_in`` reads them; current ones only ``expires_in`` in
    seconds. A missing or malformed value means Zoho's usual hour.
    """
    value = body["expires_in_sec"] if "expires_in_sec" in body else body.get("expires_in", 3600)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return 3600
    if "expires_in_sec" not in body and seconds > 100000:  # milliseconds without the _sec key
        seconds //= 1000
    return seconds


@sensitive_variables("body")
def _token_response(body: dict[str, Any], *, refreshing: bool) -> TokenResponse:
    if "error" in body:
        raise _error(body, refreshing=refreshing)
    if "access_token" not in body:
        raise ZohoError("Zoho's answer has neither access_token nor error")
    seconds = _lifetime_seconds(body)
    return TokenResponse(
        access_token=str(body["access_token"]),
        expiry_time=int(time.time() * 1000) + seconds * 1000,
        refresh_token=body.get("refresh_token"),
        api_domain=body.get("api_domain"),
        lifetime_seconds=seconds,
        scope=str(body.get("scope") or "")[:4000],
    )


def token_url(accounts_url: str) -> str:
    """Accept either the accounts base (``https://accounts.zoho.com``) or the token URL."""
    base = accounts_url.rstrip("/")
    return base if base.endswith(TOKEN_PATH) else base + TOKEN_PATH


@sensitive_variables("code", "client_secret", "data")
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


@sensitive_variables("refresh_token", "client_secret", "data")
def refresh(
    accounts_url: str,
    *,
    refresh_token: str,
    client_id: str,
    client_secret: str,
    read_timeout: float | None = None,
) -> TokenResponse:
    data = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    answer = _post(token_url(accounts_url), data=data, read_timeout=read_timeout)
    return _token_response(answer, refreshing=True)


@sensitive_variables("refresh_token")
def revoke(accounts_url: str, *, refresh_token: str) -> bool:
    """True when Zoho confirmed; False when Zoho says it does not know the token.

    The token goes in the POST body, as the SDK sends it: in the query string it would sit
    in urllib3's debug log and every proxy's access log.
    """
    url = token_url(accounts_url) + "/revoke"
    body = _post(url, data={"token": refresh_token})
    if body.get("status") == "success":
        return True
    if body.get("error") in ("invalid_token", "invalid_code"):
        return False
    raise _error(body, refreshing=True)


@sensitive_variables("access_token", "headers")
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
        email = zgid = None
    if email is None or zgid is None:
        raise ZohoError("Zoho CRM's users/org answer has no email or zgid")
    return f"{email}:{zgid}"


@sensitive_variables("headers")
def _get(url: str, headers: dict[str, str], params: dict[str, str] | None = None):
    failure: ZohoError | None = None
    try:
        response = requests.get(url, headers=headers, params=params, timeout=timeouts())
    except requests.Timeout:
        failure = ZohoUnreachable(
            f"Zoho CRM at {_host(url)} did not answer in time", ZohoUnreachable.TIMEOUT
        )
    except requests.RequestException as exc:
        failure = ZohoUnreachable(f"cannot reach Zoho CRM at {_host(url)} ({type(exc).__name__})")
    if failure is not None:
        raise failure  # outside the except: the requests error is not chained
    body = _json(response, url)
    if response.status_code == 401:
        raise ZohoError(f"Zoho CRM refused the access token (Zoho: {body.get('code')})")
    if response.status_code >= 400:
        raise ZohoError(f"Zoho CRM answered HTTP {response.status_code} ({body.get('code')})")
    return body
