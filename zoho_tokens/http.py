"""``ZohoAuth``: the stored access token on ``requests`` and ``httpx`` calls to any Zoho API.

One object for both libraries (``requests.auth.AuthBase`` and, when httpx is installed,
``httpx.Auth`` with sync and async flows)::

    requests.get(url, auth=ZohoAuth())
    httpx.Client(auth=ZohoAuth(user_name="ann@example.com:700000001"))
    httpx.AsyncClient(auth=ZohoAuth(tenant="acme"))

It adds ``Authorization: Zoho-oauthtoken <token>`` (``zoho_tokens.tokens.access_token``:
refreshed ahead through the single-flight refresh). Zoho caps live access tokens per refresh
token, so a token can die before its hour: on HTTP 401 with Zoho's ``INVALID_TOKEN`` (or
``AUTHENTICATION_FAILURE``, Desk's ``INVALID_OAUTH``) it refreshes once across workers
(``refresh_rejected``: not at all if another worker already did) and sends the request again,
once.

The token goes only where it may (``datacenters.access_token_may_go_to``): Zoho's API hosts
of the token's data center, ``API_DOMAIN`` and ``API_HOSTS``. Any other URL raises
``ConfigurationError`` before a byte is sent. Neither library re-applies it on a redirect to
another host (both drop ``Authorization`` there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import TYPE_CHECKING, Any

from requests.auth import AuthBase

from zoho_tokens import tokens
from zoho_tokens.tenancy import current_tenant

try:
    import httpx

    _HttpxAuth: Any = httpx.Auth
except ImportError:  # the [httpx] extra is not installed: requests only
    httpx = None  # type: ignore[assignment]
    _HttpxAuth = object

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

__all__ = ["REJECTED_CODES", "ZohoAuth"]

PREFIX = "Zoho-oauthtoken "
#: Zoho's codes, in a 401 body, for an access token it no longer accepts (CRM, Books:
#: ``code``; Desk: ``errorCode``). Other 401s (a missing scope) are returned as they are.
REJECTED_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "INVALID_OAUTH"})


def rejected(status: int, body: bytes) -> bool:
    """Whether a response says Zoho rejected the access token itself (refresh and retry)."""
    if status != 401:
        return False
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return str(data.get("code") or data.get("errorCode") or "") in REJECTED_CODES


class ZohoAuth(AuthBase, _HttpxAuth):  # type: ignore[misc]
    """Authenticate ``requests``/``httpx`` calls as ``tenant``'s Zoho user ``user_name``.

    ``tenant`` is fixed when the object is made (default: the current tenant then), so a
    client built in a request keeps its tenant in background work. ``scopes``: what the
    calls need (``["ZohoBooks.fullaccess.all"]``); a connection whose stored scopes lack one
    raises ``ScopeMissingError`` before any request.
    """

    def __init__(
        self,
        user_name: str | None = None,
        tenant: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.user_name = user_name
        self.tenant = current_tenant() if tenant is None else tenant
        self.scopes = tuple(scopes or ())

    def __repr__(self) -> str:
        return f"ZohoAuth(user_name={self.user_name!r}, tenant={self.tenant!r})"

    def _token(self, url: str) -> str:
        return tokens.access_token_for(url, self.user_name, self.tenant, self.scopes)

    def _renewed(self, sent: str) -> str:
        return tokens.refresh_rejected(sent, self.user_name, self.tenant)

    # -- requests ---------------------------------------------------------------------------

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = PREFIX + self._token(str(request.url))
        request.register_hook("response", self._retry_rejected)
        return request

    def _retry_rejected(self, response: Response, **kwargs: Any) -> Response:
        """On a rejected token: refresh once (across workers) and send the request again."""
        sent_request = response.request
        if getattr(sent_request, "zoho_retried", False):
            return response
        if not rejected(response.status_code, response.content):
            return response
        sent = str(sent_request.headers.get("Authorization", "")).removeprefix(PREFIX)
        token = self._renewed(sent)
        response.close()
        retry = sent_request.copy()
        retry.headers["Authorization"] = PREFIX + token
        retry.zoho_retried = True  # type: ignore[attr-defined]
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again

    # -- httpx ------------------------------------------------------------------------------

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        token = self._token(str(request.url))
        request.read()  # a retried request needs its body twice
        request.headers["Authorization"] = PREFIX + token
        response = yield request
        if response.status_code == 401 and rejected(401, response.read()):
            request.headers["Authorization"] = PREFIX + self._renewed(token)
            yield request

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        # The token's row is read in a thread: the loop never waits on the database.
        token = await tokens.aaccess_token_for(
            str(request.url), self.user_name, self.tenant, self.scopes
        )
        await request.aread()
        request.headers["Authorization"] = PREFIX + token
        response = yield request
        if response.status_code == 401 and rejected(401, await response.aread()):
            renewed = await tokens.arefresh_rejected(token, self.user_name, self.tenant)
            request.headers["Authorization"] = PREFIX + renewed
            yield request
