"""A fake Zoho (Accounts OAuth server, consent page, CRM users/org/records APIs) over real HTTP.

Why a real server instead of mocking ``requests``: the Zoho CRM SDK builds its own
requests, parses content types and JSON itself and keeps tokens in a store; only a
socket-level fake exercises all of that exactly as production does.

Pure stdlib on purpose, so it can run in any test setup (and outside Django). The records
API lives in ``records.py`` (fields in ``crm_fields.py``), the HTML pages in ``consent.py``;
this module keeps ``FakeZoho``, its public API, OAuth and routing.

Usage::

    with FakeZoho() as fake:
        code = fake.add_grant(email="ann@example.com")
        # point the SDK at DataCenter.Environment(fake.url, fake.token_url, fake.url)
"""

from __future__ import annotations

import collections
import itertools
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from zoho_tokens.testing import consent, products
from zoho_tokens.testing.identities import GrantCode, ZohoIdentity
from zoho_tokens.testing.records import RecordStore
from zoho_tokens.testing.replies import (
    INVALID_TOKEN_BODY,
    JSON_CONTENT_TYPE,
    NOT_FOUND_BODY,
    Reply,
    json_reply,
    parse_form,
    redirect,
)
from zoho_tokens.testing.tokens import (
    SCOPE,
    AccessToken,
    Grant,
    RefreshToken,
    client_matches,
    zoho_token,
)

__all__ = ["FakeZoho", "GrantCode", "LockedCounter", "ZohoIdentity"]

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
#: Test controls over HTTP, for a fake running in another process: ``drop_access_token``
#: (form ``token=...``) and a snapshot of ``counters``.
DROP_PATH = "/fake/access-tokens/drop"
COUNTERS_PATH = "/fake/counters"
#: Every CRM API major the SDKs call: zohocrmsdk6_0 uses /crm/v6, 7_0 /crm/v7, 8_0 /crm/v8.
CRM_PATH = re.compile(r"^/crm/v[678]/(?P<rest>[^/]+(?:/[^/]+)?)$")
AUTH_PREFIX = "Zoho-oauthtoken "
#: What add_grant/add_refresh_token/add_record use when no user is named.
DEFAULT_USER = ZohoIdentity(
    "user@example.com", "700000001", "4000000000001", "800000001", "Example Inc"
)

#: Zoho keeps at most this many refresh tokens per user and client; the next deletes the oldest.
REFRESH_TOKENS_PER_USER = 20

THROTTLED_BODY: dict[str, Any] = {
    "error": "Access Denied",
    "error_description": (
        "You have made too many requests continuously. Please try again after some time."
    ),
    "status": "failure",
}
#: ``handle_request``'s answer for "drop the connection without answering".
RESET = Reply(0, "", b"")
#: Scripted refresh answers (``FakeZoho.script_refresh``, ``fail_refresh``): a Zoho ``error``
#: value (``invalid_grant``, ``invalid_code``, ...), or one of these.
SCRIPT_FAULTS = ("500", "reset", "slow")

ERROR_500_HTML = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1></body></html>"
)


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
        reply = self.server.fake.handle_request(
            self.command,
            self.path,
            self.headers.get("Authorization"),
            body,
            dict(self.headers.items()),
        )
        if reply is RESET:  # hang up without an answer, as a reset connection does
            self.close_connection = True
            return
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class FakeZoho:
    """In-process fake of Zoho Accounts (OAuth, consent page) and the CRM API.

    Listens on an ephemeral 127.0.0.1 port in a daemon thread. State (users, clients,
    grants, tokens, counters) is guarded by one lock because requests are served
    concurrently; records have their own store and lock.
    """

    def __init__(
        self,
        expires_in: int = 3600,
        refresh_limit: int = 10,
        refresh_window: float = 600.0,
        live_access_tokens: int = 30,
    ) -> None:
        self.expires_in: int = expires_in
        #: Zoho's cap of live access tokens per refresh token: minting one more drops the
        #: oldest (whose next API call gets 401 INVALID_TOKEN).
        self.live_access_tokens: int = live_access_tokens
        self.refresh_limit: int = refresh_limit
        self.refresh_window: float = refresh_window
        #: Seconds a grant code stays usable (Zoho: 3 minutes).
        self.grant_lifetime: float = 180.0
        #: None, "500", "slow" or "garbage"; see handle_request.
        self.fail_mode: str | None = None
        self.slow_seconds: float = 5.0
        #: Seconds each token request (grant exchange, refresh) takes before its answer, as
        #: Zoho's own ~0.1 s: requests in parallel overlap, so sweeps measure waiting, not CPU.
        self.token_latency: float = 0.0
        #: Monotonic clock used for every expiry; tests may swap it to travel in time.
        self.clock: Callable[[], float] = time.monotonic
        #: Wall clock (epoch seconds) for records' Created_Time/Modified_Time; swappable.
        self.wall_clock: Callable[[], float] = time.time
        #: The data center the consent redirect names in ``location``.
        self.location: str = "us"
        self.counters: LockedCounter = LockedCounter()
        #: refresh token -> scripted answers, one used per refresh (``script_refresh``).
        self._scripts: dict[str, collections.deque[str]] = {}
        #: refresh token -> the answer to every refresh of it (``fail_refresh``).
        self._failing: dict[str, str] = {}
        #: How many of the next token requests are hung up on (``reset_next``).
        self._resets = 0
        self._resets_after = 0
        #: refresh token -> refresh requests that named it (answered or not).
        self.refreshes_of: collections.Counter[str] = collections.Counter()
        #: (method, path_with_query, Authorization header or None) per request.
        self.requests_log: list[tuple[str, str, str | None]] = []
        self._lock = threading.RLock()
        self._grants: dict[str, Grant] = {}
        self._refresh_tokens: dict[str, RefreshToken] = {}
        self._access_tokens: dict[str, AccessToken] = {}
        self._users: dict[str, ZohoIdentity] = {}
        self._user_numbers = itertools.count()
        self._clients: dict[str, consent.Client] = {}
        self._records = RecordStore(lambda: self.wall_clock(), self._user_by_id)
        self._server: _Server | None = None
        self._base_url: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeZoho:
        """Bind an ephemeral port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeZoho already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
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
        """Base URL, e.g. ``http://127.0.0.1:54321`` (after ``stop()`` still the last one: a
        request in flight when the fake stops answers with it instead of failing)."""
        if self._base_url is None:
            raise RuntimeError("FakeZoho is not started")
        return self._base_url

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

    @property
    def auth_url(self) -> str:
        """The consent page (Zoho's ``{accounts}/oauth/v2/auth``)."""
        return self.url + consent.AUTH_PATH

    @property
    def grants_url(self) -> str:
        """``/fake/grants``: fresh grant codes as JSON, or HTML for a browser."""
        return self.url + consent.GRANTS_PATH

    # -- users, clients and grant codes ----------------------------------------------

    def add_user(
        self,
        email: str,
        *,
        zgid: str | None = None,
        user_id: str | None = None,
        org_id: str = DEFAULT_USER.org_id,
        company: str = DEFAULT_USER.company,
    ) -> ZohoIdentity:
        """Register a Zoho user (listed on the consent page) and return it.

        Omitted ids are made up; an e-mail already registered and no ``zgid`` returns that
        user. Users are also registered by add_grant and add_refresh_token; registering the
        same ``email:zgid`` again replaces it.
        """
        with self._lock:
            if zgid is None:
                known = (u for u in self._users.values() if u.email == email)
                found = next(known, None)
                if found is not None:
                    return found
            n = next(self._user_numbers)
            identity = ZohoIdentity(
                email,
                zgid or str(700_000_100 + n),
                user_id or str(4_000_000_010_000 + n),
                org_id,
                company,
            )
            self._register(identity)
        return identity

    def users(self) -> list[ZohoIdentity]:
        """Every registered user, in registration order."""
        with self._lock:
            return list(self._users.values())

    def add_client(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        redirect_uris: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Register an app. Once any client is registered, the consent page refuses others.

        Codes approved on the consent page for a client with a secret only exchange with that
        secret; ``redirect_uris``, when given, are the only redirect URIs accepted.
        """
        with self._lock:
            self._clients[client_id] = consent.Client(
                client_id, client_secret, tuple(redirect_uris)
            )

    def fresh_grant_codes(self, *, mint: bool = False) -> list[GrantCode]:
        """Unused, unexpired grant codes, newest first.

        ``mint=True`` first gives every registered user without a fresh code a new one that
        any client may exchange (what a demo page shows for pasting into a grant form).
        """
        with self._lock:
            if mint:
                covered = {g.user.user_name for g in self._fresh_grants()}
                for identity in list(self._users.values()):
                    if identity.user_name not in covered:
                        self._mint_grant(identity, None, None)
            return self._fresh_grants()

    # -- records ---------------------------------------------------------------------

    def add_record(
        self,
        module: str,
        values: Mapping[str, Any] | None = None,
        *,
        owner: ZohoIdentity | None = None,
        **fields: Any,
    ) -> str:
        """Store a record (Leads, Contacts, Accounts or Deals) and return its id.

        Values are in the API's JSON form (``add_record("Leads", Last_Name="Ng")``);
        ``id``, ``Created_Time`` and ``Modified_Time`` may be given to seed history. The
        record belongs to ``owner``'s org (default: the first registered user, else
        ``user@example.com`` of org 800000001). Raises ValueError for what Zoho would refuse.
        """
        with self._lock:
            who = owner or next(iter(self._users.values()), None) or DEFAULT_USER
            self._register(who)
        return self._records.add(module, {**(values or {}), **fields}, who)

    def records(self, module: str, *, org_id: str | None = None) -> list[dict[str, Any]]:
        """Copies of a module's records (oldest first), of one org or of every org."""
        return self._records.records(module, org_id)

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
        scope: str = SCOPE,
    ) -> str:
        """Register a one-time grant code for a Zoho user and return it.

        With client_id/client_secret set the exchange must present exactly those;
        with None any client is accepted (most tests do not care). ``scope``: the
        comma-separated scopes the grant carries (Zoho answers them at exchange and refresh).
        """
        identity = ZohoIdentity(email, zgid, user_id, org_id, company)
        with self._lock:
            return self._mint_grant(identity, client_id, client_secret, code=code, scope=scope)

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
        scope: str = SCOPE,
    ) -> str:
        """Register a valid refresh token directly, for tests that seed storage themselves."""
        refresh_token = refresh_token or zoho_token()
        identity = ZohoIdentity(email, zgid, user_id, org_id, company)
        with self._lock:
            self._register(identity)
            self._refresh_tokens[refresh_token] = RefreshToken(
                identity, client_id, client_secret, scope=scope
            )
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

    def drop_access_token(self, access_token: str) -> None:
        """Make Zoho forget one access token before its hour, as its cap of live access
        tokens per refresh token does: the next API call with it gets 401 INVALID_TOKEN."""
        with self._lock:
            self._access_tokens[access_token].revoked = True

    def revoke_all(self) -> None:
        """Revoke every refresh token and access token, like a user removing the app."""
        with self._lock:
            for rt in self._refresh_tokens.values():
                rt.revoked = True
            for at in self._access_tokens.values():
                at.revoked = True

    def revoke_user(self, email: str) -> int:
        """Revoke every refresh token of the Zoho user ``email`` (``email:zgid`` also works),
        as the user removing the app from their Zoho account does; returns how many."""
        with self._lock:
            found = [
                token
                for token, rt in self._refresh_tokens.items()
                if not rt.revoked and email in (rt.identity.email, rt.identity.user_name)
            ]
            for token in found:
                self._revoke(token, "revoked")
        return len(found)

    def live_refresh_tokens(
        self, email: str | None = None, client_id: str | None = None
    ) -> list[str]:
        """Refresh tokens that still work, oldest first (of one user and client when given)."""
        with self._lock:
            return [
                token
                for token, rt in self._refresh_tokens.items()
                if not rt.revoked
                and email in (None, rt.identity.email, rt.identity.user_name)
                and client_id in (None, rt.client_id)
            ]

    def refresh_token_state(self, refresh_token: str) -> str:
        """ "live", "revoked", "limit" (deleted by the 20-token rule) or "unknown"."""
        with self._lock:
            rt = self._refresh_tokens.get(refresh_token)
            if rt is None:
                return "unknown"
            return rt.gone or ("revoked" if rt.revoked else "live")

    def set_refresh_limit(self, n: int) -> None:
        """Change the per-refresh-token throttle (same as assigning ``refresh_limit``)."""
        self.refresh_limit = n

    def script_refresh(self, refresh_token: str, *answers: str) -> None:
        """Answer the next refreshes of ``refresh_token`` with ``answers``, one each, then
        normally: a Zoho error value (``"invalid_grant"``, ``"invalid_code"``, ...) as HTTP
        200 ``{"error": ...}``, or ``"500"``, ``"reset"`` (hang up), ``"slow"``."""
        with self._lock:
            self._scripts.setdefault(refresh_token, collections.deque()).extend(answers)

    def fail_refresh(self, refresh_token: str, answer: str = "500") -> None:
        """Answer every refresh of ``refresh_token`` with ``answer`` (as ``script_refresh``),
        until ``fail_refresh(token, "")``."""
        with self._lock:
            if answer:
                self._failing[refresh_token] = answer
            else:
                self._failing.pop(refresh_token, None)

    def reset_next(self, n: int = 1, *, after: int = 0) -> None:
        """Hang up on ``n`` token-endpoint requests without answering, once ``after`` more
        have been answered."""
        with self._lock:
            self._resets += n
            self._resets_after = after

    def _scripted(self, params: dict[str, str]) -> Reply | None:
        """The scripted answer to this token request, if any (counted as ``scripted``)."""
        with self._lock:
            answer = None
            refreshing = params.get("grant_type") == "refresh_token"
            token = params.get("refresh_token", "")
            if refreshing:
                self.refreshes_of[token] += 1
            if self._resets > 0 and self._resets_after > 0:
                self._resets_after -= 1
            elif self._resets > 0:
                self._resets -= 1
                answer = "reset"
            if answer is None and refreshing:
                queued = self._scripts.get(token)
                answer = queued.popleft() if queued else self._failing.get(token)
        if answer is None:
            return None
        self.counters.incr("scripted")
        if answer == "reset":
            return RESET
        if answer == "500":
            return Reply(500, "text/html;charset=UTF-8", ERROR_500_HTML.encode())
        if answer == "slow":
            self._stopping.wait(self.slow_seconds)
            return None
        return json_reply(200, {"error": answer})

    def reset_counters(self) -> None:
        """Zero all counters (requests_log is kept; see reset_log)."""
        self.counters.reset()

    def reset_log(self) -> None:
        """Empty requests_log."""
        with self._lock:
            self.requests_log.clear()

    def issued_secrets(self) -> set[str]:
        """Every grant code, refresh token and access token this fake knows: what a test
        asserts never shows up in logs, output or error reports."""
        with self._lock:
            return {*self._grants, *self._refresh_tokens, *self._access_tokens}

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
        self,
        method: str,
        raw_path: str,
        authorization: str | None,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Answer one HTTP request.

        Separate from the handler so the routing is plain code operating on plain values
        (``headers`` as sent; only If-Modified-Since and Accept are read).
        fail_mode "500" and "garbage" short-circuit before any endpoint logic (only
        "requests" is counted); "slow" sleeps ``slow_seconds`` and then answers normally.
        """
        self.counters.incr("requests")
        with self._lock:
            self.requests_log.append((method, raw_path, authorization))

        mode = self.fail_mode
        if mode == "500":
            return Reply(500, "text/html;charset=UTF-8", ERROR_500_HTML.encode())
        if mode == "garbage":
            return Reply(200, JSON_CONTENT_TYPE, b"not json")
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)

        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        params = parse_form(parts.query)
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        match = CRM_PATH.match(path)
        if method == "POST" and not match:  # the accounts server's forms; the CRM takes JSON
            params.update(parse_form(body.decode("utf-8", "replace")))

        if method == "POST" and path == TOKEN_PATH:
            if self.token_latency > 0:
                self._stopping.wait(self.token_latency)
            scripted = self._scripted(params)
            if scripted is not None:
                return scripted
            return json_reply(200, self._token_endpoint(params))
        if method == "POST" and path == REVOKE_PATH:
            return json_reply(200, self._revoke_endpoint(params))
        if method in ("GET", "POST") and path == consent.AUTH_PATH:
            return self._authorize(method, params)
        if method == "POST" and path == consent.REVOKE_USER_PATH:
            revoked = self.revoke_user(params.get("user", ""))
            if "text/html" in lowered.get("accept", ""):
                return redirect(self.grants_url, status=303)
            return json_reply(200, {"revoked": revoked})
        if method in ("GET", "POST") and path == consent.GRANTS_PATH:
            return self._grants_endpoint(method, params, lowered)
        if path == DROP_PATH and method == "POST":
            try:
                self.drop_access_token(params.get("token", ""))
            except KeyError:
                return json_reply(404, {"error": "unknown_token"})
            return json_reply(200, {"dropped": True})
        if path == COUNTERS_PATH and method == "GET":
            return json_reply(200, self.counters.snapshot())
        if products.handles(method, path):
            self.counters.incr("api")
            return products.product_reply(
                method, path, self._token_and_scopes(authorization), body, self._records.records
            )
        if match:
            return self._crm(method, match["rest"], authorization, params, lowered, body)
        return json_reply(404, NOT_FOUND_BODY)

    def _token_and_scopes(
        self, authorization: str | None
    ) -> tuple[ZohoIdentity, frozenset[str]] | None:
        if not authorization or not authorization.startswith(AUTH_PREFIX):
            return None
        token = authorization[len(AUTH_PREFIX) :]
        with self._lock:
            who = self._identity_for_access_token(token)
            if who is None:
                return None
            scope = self._refresh_tokens[self._access_tokens[token].refresh_token].scope
        return who, frozenset(s.strip() for s in scope.split(",") if s.strip())

    def _crm(
        self,
        method: str,
        rest: str,
        authorization: str | None,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        """``/crm/v{6,7,8}/...``: users, org, field and module metadata, records."""
        who = None
        if authorization and authorization.startswith(AUTH_PREFIX):
            with self._lock:
                who = self._identity_for_access_token(authorization[len(AUTH_PREFIX) :])
        resource, _, sub = rest.partition("/")
        if rest in ("users", "org") and method == "GET":
            self.counters.incr(rest)
            if who is None:
                return json_reply(401, INVALID_TOKEN_BODY)
            return json_reply(200, who.users_json() if rest == "users" else who.org_json())
        if resource == "settings" and sub in ("fields", "modules") and method == "GET":
            self.counters.incr(sub)
            if who is None:
                return json_reply(401, INVALID_TOKEN_BODY)
            if sub == "fields":
                return self._records.fields_reply(params)
            return self._records.modules_reply()
        if resource in ("users", "org", "settings"):
            return json_reply(404, NOT_FOUND_BODY)
        self.counters.incr("records")
        if who is None:
            return json_reply(401, INVALID_TOKEN_BODY)
        return self._records.handle(who, method, resource, sub or None, params, headers, body)

    def _authorize(self, method: str, params: dict[str, str]) -> Reply:
        """``/oauth/v2/auth``: GET shows the consent page, POST carries the decision."""
        self.counters.incr("consent")
        with self._lock:
            refused = consent.check_authorize(params, self._clients)
            if refused is not None:
                return refused
            if method == "GET":
                return consent.consent_page(params, list(self._users.values()))
            if params.get("decision") == "deny":
                return consent.denied(params)
            identity = self._users.get(params.get("user", ""))
            if params.get("decision") != "approve" or identity is None:
                return consent.error_page(400, "Invalid Request", "Pick a user to approve as.")
            client = self._clients.get(params["client_id"])
            secret = client.client_secret if client else None
            code = self._mint_grant(identity, params["client_id"], secret, scope=params["scope"])
        self.counters.incr("consent_approved")
        return consent.approved(params, code, self.location, self.accounts_url)

    def _grants_endpoint(
        self, method: str, params: dict[str, str], headers: dict[str, str]
    ) -> Reply:
        """``/fake/grants``: GET lists fresh codes; POST mints (one user, or all lacking one)."""
        browser = "text/html" in headers.get("accept", "")
        if method == "POST":
            user = params.get("user", "")
            with self._lock:
                identity = self._users.get(user)
                if user and identity is None:
                    return json_reply(400, {"error": "unknown_user", "user": user})
                if identity is not None:
                    self._mint_grant(identity, None, None)
            self.fresh_grant_codes(mint=not user)
            if browser:
                return redirect(self.grants_url, status=303)
        grants = self.fresh_grant_codes()
        if browser:
            return consent.grants_page(grants, self.users())
        status = 201 if method == "POST" else 200
        return json_reply(status, {"grants": [g.as_json() for g in grants]})

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
            if not client_matches(grant.client_id, grant.client_secret, client_id, client_secret):
                return {"error": "invalid_client"}
            grant.used = True
            refresh_token = zoho_token()
            self._enforce_token_limit(grant.identity, client_id)
            self._refresh_tokens[refresh_token] = RefreshToken(
                grant.identity, client_id, client_secret, scope=grant.scope
            )
            access_token = self._new_access_token(refresh_token)
        self.counters.incr("grant_ok")
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "scope": grant.scope,
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
            if not client_matches(rt.client_id, rt.client_secret, client_id, client_secret):
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
            "scope": rt.scope,
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
            self._revoke(token, "revoked")
        self.counters.incr("revoke_ok")
        return {"status": "success"}

    # -- helpers (call with self._lock held) -----------------------------------------

    def _revoke(self, token: str, why: str) -> None:
        """Revoke a refresh token and every access token minted from it."""
        rt = self._refresh_tokens[token]
        rt.revoked, rt.gone = True, why
        for at in self._access_tokens.values():
            if at.refresh_token == token:
                at.revoked = True

    def _enforce_token_limit(self, identity: ZohoIdentity, client_id: str) -> None:
        """Zoho's rule: a user keeps 20 refresh tokens per client; issuing the 21st deletes
        the oldest, "regardless of whether it is in use"."""
        live = [
            token
            for token, rt in self._refresh_tokens.items()
            if not rt.revoked
            and rt.identity.user_name == identity.user_name
            and rt.client_id == client_id
        ]
        for token in live[: max(len(live) - REFRESH_TOKENS_PER_USER + 1, 0)]:
            self._revoke(token, "limit")
            self.counters.incr("deleted_by_limit")

    def _register(self, identity: ZohoIdentity) -> None:
        self._users[identity.user_name] = identity

    def _user_by_id(self, org_id: str, user_id: str) -> ZohoIdentity | None:
        with self._lock:
            found = (u for u in self._users.values() if (u.org_id, u.user_id) == (org_id, user_id))
            return next(found, None)

    def _mint_grant(
        self,
        identity: ZohoIdentity,
        client_id: str | None,
        client_secret: str | None,
        *,
        code: str | None = None,
        scope: str = SCOPE,
    ) -> str:
        self._register(identity)
        code = code or zoho_token()
        self._grants[code] = Grant(identity, client_id, client_secret, self.clock(), scope=scope)
        return code

    def _fresh_grants(self) -> list[GrantCode]:
        now = self.clock()
        fresh = [
            GrantCode(code, g.identity, g.client_id, int(g.created + self.grant_lifetime - now))
            for code, g in self._grants.items()
            if not g.used and now - g.created <= self.grant_lifetime
        ]
        return fresh[::-1]

    def _new_access_token(self, refresh_token: str) -> str:
        token = zoho_token()
        now = self.clock()
        live = [
            at
            for at in self._access_tokens.values()
            if at.refresh_token == refresh_token and not at.revoked and at.expires_at > now
        ]
        for oldest in live[: max(len(live) - self.live_access_tokens + 1, 0)]:
            oldest.revoked = True  # dicts keep insertion order: the first are the oldest
        self._access_tokens[token] = AccessToken(refresh_token, now + self.expires_in)
        return token

    def _identity_for_access_token(self, access_token: str) -> ZohoIdentity | None:
        at = self._access_tokens.get(access_token)
        if at is None or at.revoked or at.expires_at <= self.clock():
            return None
        rt = self._refresh_tokens.get(at.refresh_token)
        if rt is None or rt.revoked:
            return None
        return rt.identity
