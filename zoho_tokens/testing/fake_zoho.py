"""A fake Zoho (Accounts OAuth server + CRM users/org APIs) served over real HTTP.

Why a real server instead of mocking ``requests``: the Zoho CRM SDK builds its own
requests, parses content types and JSON itself and keeps tokens in a store; only a
socket-level fake exercises all of that exactly as production does.

Pure stdlib on purpose, so it can run in any test setup (and outside Django).

Usage::

    with FakeZoho() as fake:
        code = fake.add_grant(email="ann@example.com")
        # point the SDK at DataCenter.Environment(fake.url, fake.token_url, fake.url)
"""

from __future__ import annotations

import collections
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeZoho", "LockedCounter"]

SCOPE = "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
USERS_PATH = "/crm/v8/users"
ORG_PATH = "/crm/v8/org"
AUTH_PREFIX = "Zoho-oauthtoken "

THROTTLED_BODY: dict[str, Any] = {
    "error": "Access Denied",
    "error_description": (
        "You have made too many requests continuously. Please try again after some time."
    ),
    "status": "failure",
}
INVALID_TOKEN_BODY: dict[str, Any] = {
    "code": "INVALID_TOKEN",
    "details": {},
    "message": "invalid oauth token",
    "status": "error",
}
NOT_FOUND_BODY: dict[str, Any] = {
    "code": "INVALID_URL_PATTERN",
    "details": {},
    "message": "Please check if the URL trying to access is a correct one",
    "status": "error",
}
ERROR_500_HTML = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1></body></html>"
)


def zoho_token() -> str:
    """Return a random value shaped like Zoho's tokens: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


class LockedCounter(collections.Counter[str]):
    """A Counter whose increments are atomic, since handler threads update it concurrently.

    Reads behave like a normal Counter (missing keys are 0).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        super().__init__()

    def incr(self, key: str, n: int = 1) -> None:
        """Add ``n`` to ``key`` under the lock."""
        with self._lock:
            self[key] += n

    def reset(self) -> None:
        """Zero every key under the lock."""
        with self._lock:
            self.clear()

    def snapshot(self) -> dict[str, int]:
        """Return a consistent plain-dict copy (for asserting on several keys at once)."""
        with self._lock:
            return dict(self)


@dataclass(frozen=True)
class ZohoIdentity:
    """The Zoho user/org a grant or refresh token belongs to."""

    email: str
    zgid: str
    user_id: str
    org_id: str
    company: str

    @property
    def first_name(self) -> str:
        """Derived from the e-mail so different fake users are told apart in answers."""
        local = self.email.split("@", 1)[0]
        return local.replace(".", " ").replace("_", " ").title() or "Test"

    @property
    def last_name(self) -> str:
        return "Tester"


@dataclass
class _Grant:
    identity: ZohoIdentity
    client_id: str | None
    client_secret: str | None
    created: float
    used: bool = False


@dataclass
class _RefreshToken:
    identity: ZohoIdentity
    client_id: str | None
    client_secret: str | None
    revoked: bool = False
    issued_at: collections.deque[float] = field(default_factory=collections.deque)


@dataclass
class _AccessToken:
    refresh_token: str
    expires_at: float
    revoked: bool = False


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FakeZoho and stays quiet about dropped clients."""

    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs under concurrent-client tests (1 s retry stalls).
    request_queue_size = 128

    def __init__(self, fake: FakeZoho) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hung up (e.g. after a client-side timeout in "slow" mode)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes every request to FakeZoho.handle_request."""

    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "ZGS"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's per-request stderr logging; tests read requests_log."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, content_type, payload = self.server.fake.handle_request(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class FakeZoho:
    """In-process fake of Zoho Accounts (OAuth) and the CRM users/org APIs.

    Listens on an ephemeral 127.0.0.1 port in a daemon thread. State (grants, tokens,
    counters) is guarded by one lock because requests are served concurrently.
    """

    def __init__(
        self, expires_in: int = 3600, refresh_limit: int = 10, refresh_window: float = 600.0
    ) -> None:
        self.expires_in: int = expires_in
        self.refresh_limit: int = refresh_limit
        self.refresh_window: float = refresh_window
        #: Seconds a grant code stays usable (Zoho: 3 minutes).
        self.grant_lifetime: float = 180.0
        #: None, "500", "slow" or "garbage"; see handle_request.
        self.fail_mode: str | None = None
        self.slow_seconds: float = 5.0
        #: Monotonic clock used for every expiry; tests may swap it to travel in time.
        self.clock: Callable[[], float] = time.monotonic
        self.counters: LockedCounter = LockedCounter()
        #: (method, path_with_query, Authorization header or None) per request.
        self.requests_log: list[tuple[str, str, str | None]] = []
        self._lock = threading.RLock()
        self._grants: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeZoho:
        """Bind an ephemeral port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeZoho already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeZoho:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; wakes up requests sleeping in "slow" mode."""
        self._stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeZoho:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("FakeZoho is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def accounts_url(self) -> str:
        """Accounts server base (same host as the API in this fake)."""
        return self.url

    @property
    def token_url(self) -> str:
        """What the SDK calls ``accounts_url``: the full token endpoint."""
        return self.url + TOKEN_PATH

    @property
    def api_domain(self) -> str:
        """CRM API base, as returned in the token answers' ``api_domain``."""
        return self.url

    # -- seeding and test controls ---------------------------------------------------

    def add_grant(
        self,
        code: str | None = None,
        *,
        email: str = "user@example.com",
        zgid: str = "700000001",
        user_id: str = "4000000000001",
        org_id: str = "800000001",
        company: str = "Example Inc",
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> str:
        """Register a one-time grant code for a Zoho user and return it.

        With client_id/client_secret set the exchange must present exactly those;
        with None any client is accepted (most tests do not care).
        """
        code = code or zoho_token()
        identity = ZohoIdentity(email, zgid, user_id, org_id, company)
        with self._lock:
            self._grants[code] = _Grant(identity, client_id, client_secret, self.clock())
        return code

    def add_refresh_token(
        self,
        refresh_token: str | None = None,
        *,
        email: str = "user@example.com",
        zgid: str = "700000001",
        user_id: str = "4000000000001",
        org_id: str = "800000001",
        company: str = "Example Inc",
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> str:
        """Register a valid refresh token directly, for tests that seed storage themselves."""
        refresh_token = refresh_token or zoho_token()
        identity = ZohoIdentity(email, zgid, user_id, org_id, company)
        with self._lock:
            self._refresh_tokens[refresh_token] = _RefreshToken(identity, client_id, client_secret)
        return refresh_token

    def issue_access_token(self, refresh_token: str) -> str:
        """Mint an access token for a known refresh token, bypassing HTTP and throttling.

        Raises KeyError for an unknown or revoked refresh token.
        """
        with self._lock:
            rt = self._refresh_tokens.get(refresh_token)
            if rt is None or rt.revoked:
                raise KeyError(refresh_token)
            return self._new_access_token(refresh_token)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (API calls then get 401)."""
        with self._lock:
            for at in self._access_tokens.values():
                at.expires_at = float("-inf")

    def revoke_all(self) -> None:
        """Revoke every refresh token and access token, like a user removing the app."""
        with self._lock:
            for rt in self._refresh_tokens.values():
                rt.revoked = True
            for at in self._access_tokens.values():
                at.revoked = True

    def set_refresh_limit(self, n: int) -> None:
        """Change the per-refresh-token throttle (same as assigning ``refresh_limit``)."""
        self.refresh_limit = n

    def reset_counters(self) -> None:
        """Zero all counters (requests_log is kept; see reset_log)."""
        self.counters.reset()

    def reset_log(self) -> None:
        """Empty requests_log."""
        with self._lock:
            self.requests_log.clear()

    def is_access_token_valid(self, access_token: str) -> bool:
        """True if the CRM API would accept this access token right now."""
        with self._lock:
            return self._identity_for_access_token(access_token) is not None

    def is_refresh_token_valid(self, refresh_token: str) -> bool:
        """True if this refresh token is known and not revoked."""
        with self._lock:
            rt = self._refresh_tokens.get(refresh_token)
            return rt is not None and not rt.revoked

    # -- request handling ------------------------------------------------------------

    def handle_request(
        self, method: str, raw_path: str, authorization: str | None, body: bytes
    ) -> tuple[int, str, bytes]:
        """Answer one HTTP request; returns (status, content type, body).

        Separate from the handler so the routing is plain code operating on plain values.
        fail_mode "500" and "garbage" short-circuit before any endpoint logic (only
        "requests" is counted); "slow" sleeps ``slow_seconds`` and then answers normally.
        """
        self.counters.incr("requests")
        with self._lock:
            self.requests_log.append((method, raw_path, authorization))

        mode = self.fail_mode
        if mode == "500":
            return 500, "text/html;charset=UTF-8", ERROR_500_HTML.encode()
        if mode == "garbage":
            return 200, JSON_CONTENT_TYPE, b"not json"
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)

        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        params = _parse_form(parts.query)

        if method == "POST" and path == TOKEN_PATH:
            params.update(_parse_form(body.decode("utf-8", "replace")))
            return _json(200, self._token_endpoint(params))
        if method == "POST" and path == REVOKE_PATH:
            params.update(_parse_form(body.decode("utf-8", "replace")))
            return _json(200, self._revoke_endpoint(params))
        if method == "GET" and path == USERS_PATH:
            self.counters.incr("users")
            return self._crm_endpoint(authorization, self._users_body)
        if method == "GET" and path == ORG_PATH:
            self.counters.incr("org")
            return self._crm_endpoint(authorization, self._org_body)
        return _json(404, NOT_FOUND_BODY)

    def _token_endpoint(self, params: dict[str, str]) -> dict[str, Any]:
        self.counters.incr("token")
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            self.counters.incr("grant")
            return self._exchange_code(params)
        if grant_type == "refresh_token":
            self.counters.incr("refresh")
            return self._refresh(params)
        return {"error": "unsupported_grant_type"}

    def _exchange_code(self, params: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if not client_id or not client_secret:
            return {"error": "invalid_client"}
        with self._lock:
            grant = self._grants.get(params.get("code", ""))
            if grant is None or grant.used or self.clock() - grant.created > self.grant_lifetime:
                return {"error": "invalid_code"}
            if not _client_matches(grant.client_id, grant.client_secret, client_id, client_secret):
                return {"error": "invalid_client"}
            grant.used = True
            refresh_token = zoho_token()
            self._refresh_tokens[refresh_token] = _RefreshToken(
                grant.identity, client_id, client_secret
            )
            access_token = self._new_access_token(refresh_token)
        self.counters.incr("grant_ok")
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "scope": SCOPE,
            "api_domain": self.api_domain,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    def _refresh(self, params: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if not client_id or not client_secret:
            return {"error": "invalid_client"}
        with self._lock:
            refresh_token = params.get("refresh_token", "")
            rt = self._refresh_tokens.get(refresh_token)
            if rt is None or rt.revoked:
                return {"error": "invalid_code"}
            if not _client_matches(rt.client_id, rt.client_secret, client_id, client_secret):
                return {"error": "invalid_client"}
            now = self.clock()
            while rt.issued_at and now - rt.issued_at[0] >= self.refresh_window:
                rt.issued_at.popleft()
            if len(rt.issued_at) >= self.refresh_limit:
                self.counters.incr("throttled")
                return dict(THROTTLED_BODY)
            rt.issued_at.append(now)
            access_token = self._new_access_token(refresh_token)
        self.counters.incr("refresh_ok")
        return {
            "access_token": access_token,
            "scope": SCOPE,
            "api_domain": self.api_domain,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    def _revoke_endpoint(self, params: dict[str, str]) -> dict[str, Any]:
        """Revoke a refresh token and every access token minted from it.

        Our fake's choice for an unknown (or already revoked) token is HTTP 200 with
        ``{"status": "failure", "error": "invalid_token"}``; the SDK only checks for
        ``status == "success"``, so any non-success answer reads as "not revoked".
        """
        self.counters.incr("revoke")
        token = params.get("token", "")
        with self._lock:
            rt = self._refresh_tokens.get(token)
            if rt is None or rt.revoked:
                return {"status": "failure", "error": "invalid_token"}
            rt.revoked = True
            for at in self._access_tokens.values():
                if at.refresh_token == token:
                    at.revoked = True
        return {"status": "success"}

    def _crm_endpoint(
        self, authorization: str | None, render: Callable[[ZohoIdentity], dict[str, Any]]
    ) -> tuple[int, str, bytes]:
        identity = None
        if authorization and authorization.startswith(AUTH_PREFIX):
            with self._lock:
                identity = self._identity_for_access_token(authorization[len(AUTH_PREFIX) :])
        if identity is None:
            return _json(401, INVALID_TOKEN_BODY)
        return _json(200, render(identity))

    @staticmethod
    def _users_body(who: ZohoIdentity) -> dict[str, Any]:
        return {
            "users": [
                {
                    "id": who.user_id,
                    "email": who.email,
                    "full_name": f"{who.first_name} {who.last_name}",
                    "first_name": who.first_name,
                    "last_name": who.last_name,
                    "status": "active",
                    "confirm": True,
                    "role": {"name": "CEO", "id": "4000000026005"},
                    "profile": {"name": "Administrator", "id": "4000000026011"},
                }
            ],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False},
        }

    @staticmethod
    def _org_body(who: ZohoIdentity) -> dict[str, Any]:
        return {
            "org": [
                {
                    "id": who.org_id,
                    "zgid": who.zgid,
                    "company_name": who.company,
                    "primary_email": who.email,
                    "country_code": "US",
                    "currency": "US Dollar",
                    "time_zone": "America/New_York",
                }
            ]
        }

    # -- helpers (call with self._lock held) -----------------------------------------

    def _new_access_token(self, refresh_token: str) -> str:
        token = zoho_token()
        self._access_tokens[token] = _AccessToken(refresh_token, self.clock() + self.expires_in)
        return token

    def _identity_for_access_token(self, access_token: str) -> ZohoIdentity | None:
        at = self._access_tokens.get(access_token)
        if at is None or at.revoked or at.expires_at <= self.clock():
            return None
        rt = self._refresh_tokens.get(at.refresh_token)
        if rt is None or rt.revoked:
            return None
        return rt.identity


def _client_matches(
    want_id: str | None, want_secret: str | None, got_id: str, got_secret: str
) -> bool:
    """None registered credentials mean "any client"; otherwise both must match."""
    if want_id is not None and want_id != got_id:
        return False
    return want_secret is None or want_secret == got_secret


def _parse_form(text: str) -> dict[str, str]:
    """Flatten an urlencoded string to its first values (Zoho ignores repeats too)."""
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _json(status: int, data: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, JSON_CONTENT_TYPE, json.dumps(data).encode("utf-8")
