"""The Zoho Accounts client's answer handling, through its public functions
(``exchange_grant``, ``refresh``, ``revoke``, ``current_user_name``) over HTTP: which error
each answer becomes.

Zoho answers most errors with HTTP 200 and an ``error`` key; the client turns them into
``ZohoError`` (``code``: Zoho's error code) or ``ZohoUnreachable``, which commands, the admin
and views rely on. A tiny local ``http.server`` gives the answers each test sets, on
127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import now_ms
from zoho_tokens import oauth_client as client  # the Zoho Accounts HTTP client under test
from zoho_tokens.exceptions import ZohoError, ZohoTokensError, ZohoUnreachable

HOUR_MS = 3_600_000
SLACK_MS = 5_000  # time passing during a test


# -- over HTTP: a local stand-in for Zoho Accounts ----------------------------------------------


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout test) is not an error here."""


class StubAccounts:
    """Answers each path with what the test set; records (method, path, query, form)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes, float, dict[str, str]]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, list[str]]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode()) if length else {}
                stub.requests.append((self.command, parts.path, parse_qs(parts.query), form))
                status, ctype, body, delay, headers = stub.answers.get(
                    parts.path, (404, "application/json", b'{"error":"not_found"}', 0, {})
                )
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def answer(
        self,
        path: str,
        body: Any,
        *,
        status: int = 200,
        content_type: str = "application/json;charset=UTF-8",
        delay: float = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[path] = (status, content_type, raw, delay, headers or {})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def accounts(settings) -> Iterator[StubAccounts]:
    settings.ZOHO_TOKENS = {"HTTP_TIMEOUT": 2}
    stub = StubAccounts()
    try:
        yield stub
    finally:
        stub.stop()


TOKEN = "/oauth/v2/token"


def exchange(url: str) -> client.TokenResponse:
    """The public grant exchange, as ``services.exchange_grant`` calls it."""
    return client.exchange_grant(url, code="1000.code", client_id="1000.C", client_secret="s3cr3t")


def refresh(url: str) -> client.TokenResponse:
    """The public refresh, as the single-flight refresher calls it."""
    return client.refresh(url, refresh_token="1000.r", client_id="1000.C", client_secret="s3cr3t")


def raised(call: Callable[[str], Any], url: str) -> ZohoError:
    with pytest.raises(ZohoError) as info:
        call(url)
    return info.value


def answered(accounts: StubAccounts, body: Any, *, refreshing: bool) -> ZohoError:
    """The error the client raises when Zoho Accounts answers ``body`` to an exchange (or a
    refresh)."""
    accounts.answer(TOKEN, body)
    return raised(refresh if refreshing else exchange, accounts.url)


def token_answer(accounts: StubAccounts, body: Any, *, refreshing: bool = True):
    accounts.answer(TOKEN, body)
    return (refresh if refreshing else exchange)(accounts.url)


# -- Zoho's error codes ---------------------------------------------------------------------------


def test_invalid_code_while_exchanging_is_a_used_or_expired_grant(accounts):
    error = answered(accounts, {"error": "invalid_code"}, refreshing=False)
    assert type(error) is ZohoError and not error.throttled
    assert str(error) == "this grant token was already used or has expired (Zoho: invalid_code)"
    assert error.code == "invalid_code" and error.refused
    assert "generate a new one" in error.hint
    assert error.with_hint() == f"{error}; {error.hint}"


def test_invalid_code_while_refreshing_is_a_rejected_refresh_token(accounts):
    error = answered(accounts, {"error": "invalid_code"}, refreshing=True)
    assert str(error) == "Zoho rejected the refresh token (Zoho: invalid_code)"
    assert error.code == "invalid_code" and error.refused
    assert "connect this user again" in error.hint


def test_invalid_grant_while_refreshing_is_a_refusal_too(accounts):
    error = answered(accounts, {"error": "invalid_grant"}, refreshing=True)
    assert (error.code, error.refused) == ("invalid_grant", True)


@pytest.mark.parametrize("refreshing", [False, True])
@pytest.mark.parametrize("code", ["invalid_client", "invalid_client_secret"])
def test_invalid_client_keeps_zohos_code(accounts, code, refreshing):
    error = answered(accounts, {"error": code}, refreshing=refreshing)
    assert error.code == code and not error.refused
    assert str(error) == f"Zoho does not know this client id/secret (Zoho: {code})"
    assert "client id and client secret" in error.hint


@pytest.mark.parametrize("refreshing", [False, True])
def test_access_denied_is_throttling(accounts, refreshing):
    body = {"error": "Access Denied", "error_description": "You have made too many requests"}
    error = answered(accounts, body, refreshing=refreshing)
    assert error.code == ZohoError.THROTTLED == "Access Denied" and error.throttled
    assert str(error) == "Zoho is throttling token requests (Zoho: Access Denied)"
    assert "10 access tokens per refresh token" in error.hint


def test_invalid_redirect_uri_is_a_client_mistake(accounts):
    error = answered(accounts, {"error": "invalid_redirect_uri"}, refreshing=False)
    assert error.code == "invalid_redirect_uri"
    assert "redirect URL does not match" in str(error)
    assert "client id and client secret" in error.hint


@pytest.mark.parametrize("code", ["unsupported_grant_type", "invalid_scope", "general_error"])
def test_unknown_errors_are_unexpected_answers_naming_zohos_code(accounts, code):
    error = answered(accounts, {"error": code}, refreshing=False)
    assert error.code == code and not (error.refused or error.throttled)
    assert str(error) == f"Zoho refused the request (Zoho: {code})"
    assert "does not understand" in error.hint


def test_a_long_unknown_error_is_cut_to_80_characters(accounts):
    code = "x" * 79 + "TAIL" + "y" * 200
    error = answered(accounts, {"error": code}, refreshing=True)
    assert error.code == code[:80]
    assert code[:80] in str(error) and "TAIL" not in str(error)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "invalid_code"},
        {"error": "invalid_client"},
        {"error": "Access Denied"},
        {"error": "invalid_redirect_uri"},
        {"error": "other"},
    ],
)
def test_every_mapped_error_is_one_line_in_the_one_hierarchy(accounts, body):
    for refreshing in (False, True):
        error = answered(accounts, body, refreshing=refreshing)
        assert isinstance(error, ZohoError) and isinstance(error, ZohoTokensError)
        assert error.status_code == 502
        assert "\n" not in error.with_hint()


# -- successful answers and what they must hold ----------------------------------------------------


def test_an_error_key_wins_over_an_access_token(accounts):
    body = {"error": "invalid_code", "access_token": "1000.x"}
    assert "grant token" in str(answered(accounts, body, refreshing=False))
    assert "refresh token" in str(answered(accounts, body, refreshing=True))


@pytest.mark.parametrize("body", [{}, {"refresh_token": "1000.r"}, {"expires_in": 3600}])
def test_no_access_token_and_no_error_is_unexpected(accounts, body):
    error = answered(accounts, body, refreshing=False)
    assert error.code == ZohoError.UNEXPECTED
    assert "neither access_token nor error" in str(error)


def test_a_full_answer_becomes_a_token_response(accounts):
    body = {
        "access_token": "1000.access",
        "refresh_token": "1000.refresh",
        "api_domain": "https://www.zohoapis.eu",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    before = now_ms()
    answer = token_answer(accounts, body, refreshing=False)
    assert (answer.access_token, answer.refresh_token) == ("1000.access", "1000.refresh")
    assert answer.api_domain == "https://www.zohoapis.eu"
    assert before + HOUR_MS <= answer.expiry_time <= now_ms() + HOUR_MS


def test_a_refresh_answer_has_no_refresh_token(accounts):
    answer = token_answer(accounts, {"access_token": "1000.a", "expires_in": 3600})
    assert answer.refresh_token is None and answer.api_domain is None


@pytest.mark.parametrize(
    ("expires_in", "lifetime_ms"),
    [
        (3600, HOUR_MS),  # seconds, today's API
        ("3600", HOUR_MS),
        (600, 600_000),
        (3_600_000, HOUR_MS),  # milliseconds, the old API
        (None, HOUR_MS),  # missing: Zoho's access tokens live one hour
        ("soon", HOUR_MS),
    ],
)
def test_expires_in_seconds_or_milliseconds(accounts, expires_in, lifetime_ms):
    body: dict[str, Any] = {"access_token": "1000.a"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    before = now_ms()
    answer = token_answer(accounts, body)
    assert before + lifetime_ms <= answer.expiry_time <= now_ms() + lifetime_ms + SLACK_MS


def test_old_answer_with_expires_in_sec_lives_one_hour(accounts):
    """With ``expires_in_sec`` present, ``expires_in`` is milliseconds (the SDK reads it so)."""
    body = {"access_token": "1000.a", "expires_in_sec": 3600, "expires_in": 3_600_000}
    before = now_ms()
    answer = token_answer(accounts, body)
    assert before + HOUR_MS <= answer.expiry_time <= now_ms() + HOUR_MS + SLACK_MS


# -- over HTTP ------------------------------------------------------------------------------------


def test_the_same_answer_over_http_maps_by_operation(accounts):
    accounts.answer(TOKEN, {"error": "invalid_code"})
    assert "grant token" in str(raised(exchange, accounts.url))
    assert "refresh token" in str(raised(refresh, accounts.url))


def test_secrets_travel_in_the_form_body_not_the_url(accounts):
    accounts.answer(TOKEN, {"access_token": "1000.a", "expires_in": 3600})
    exchange(accounts.url)
    refresh(accounts.url + "/")  # a base URL with a slash, or the token URL itself
    client.refresh(accounts.url + TOKEN, refresh_token="1000.r", client_id="c", client_secret="x")
    assert [(m, p, q) for m, p, q, _ in accounts.requests] == [("POST", TOKEN, {})] * 3
    grant, refreshed = accounts.requests[0][3], accounts.requests[1][3]
    assert grant["grant_type"] == ["authorization_code"] and grant["code"] == ["1000.code"]
    assert grant["client_secret"] == ["s3cr3t"]
    assert refreshed["grant_type"] == ["refresh_token"] and refreshed["refresh_token"] == ["1000.r"]


@pytest.mark.parametrize("status", [200, 502])
def test_an_answer_without_json_is_unexpected(accounts, status):
    accounts.answer(TOKEN, b"<html>Bad Gateway</html>", status=status, content_type="text/html")
    with pytest.raises(ZohoError) as info:
        refresh(accounts.url)
    assert info.value.code == ZohoError.UNEXPECTED
    assert str(info.value) == f"Zoho at {accounts.url[7:]} answered HTTP {status} without JSON"


@pytest.mark.parametrize(
    ("body", "kind"), [([], "list"), ([{"access_token": "1000.a"}], "list"), ("ok", "str")]
)
def test_json_that_is_not_an_object_is_unexpected(accounts, body, kind):
    accounts.answer(TOKEN, body)
    with pytest.raises(ZohoError, match=f"answered a JSON {kind}$"):
        exchange(accounts.url)


def test_a_redirect_is_not_followed(accounts):
    """The client secret is posted to the configured server only, never to a Location."""
    elsewhere = StubAccounts()
    try:
        elsewhere.answer(TOKEN, {"access_token": "1000.stolen", "expires_in": 3600})
        accounts.answer(TOKEN, b"", status=307, headers={"Location": elsewhere.url + TOKEN})
        with pytest.raises(ZohoError, match="HTTP 307 without JSON"):
            exchange(accounts.url)
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_an_unreachable_server_names_only_its_host(settings):
    settings.ZOHO_TOKENS = {"HTTP_TIMEOUT": 2}
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ZohoUnreachable) as info:
        refresh(f"http://127.0.0.1:{port}")
    assert type(info.value) is ZohoUnreachable and info.value.code == "network"
    assert str(info.value).startswith(f"cannot reach Zoho Accounts at 127.0.0.1:{port} (")
    assert info.value.status_code == 504 and info.value.__cause__ is None
    assert "1000.r" not in str(info.value) and "s3cr3t" not in str(info.value)


def test_a_slow_server_is_a_timeout(accounts, settings):
    settings.ZOHO_TOKENS = {"HTTP_TIMEOUT": 0.3}
    accounts.answer(TOKEN, {"access_token": "1000.a"}, delay=1.5)
    with pytest.raises(ZohoUnreachable) as info:
        refresh(accounts.url)
    assert info.value.code == ZohoUnreachable.TIMEOUT == "timeout"
    assert str(info.value) == f"Zoho Accounts at {accounts.url[7:]} did not answer within 0.3 s"
    assert info.value.status_code == 504


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ({"status": "success"}, True),
        ({"status": "failure", "error": "invalid_token"}, False),
        ({"error": "invalid_code"}, False),
    ],
)
def test_revoke_answers(accounts, body, result):
    accounts.answer(TOKEN + "/revoke", body)
    assert client.revoke(accounts.url, refresh_token="1000.r") is result
    method, path, query, form = accounts.requests[0]
    # In the body, never in the URL (proxies and urllib3's debug log record URLs).
    assert (method, path, query, form) == ("POST", TOKEN + "/revoke", {}, {"token": ["1000.r"]})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error": "Access Denied"}, ZohoError.THROTTLED),
        ({"error": "invalid_client"}, ZohoError.INVALID_CLIENT),
        ({"status": "failure"}, "None"),
    ],
)
def test_revoke_failures_raise(accounts, body, code):
    accounts.answer(TOKEN + "/revoke", body)
    with pytest.raises(ZohoError) as info:
        client.revoke(accounts.url, refresh_token="1000.r")
    assert info.value.code == code


def test_current_user_name_is_email_and_org_zgid(accounts):
    accounts.answer("/crm/v8/users", {"users": [{"email": "ann@example.com"}]})
    accounts.answer("/crm/v8/org", {"org": [{"zgid": "700000042"}]})
    assert client.current_user_name(accounts.url + "/", "1000.a") == "ann@example.com:700000042"
    assert accounts.requests[0][2] == {"type": ["CurrentUser"]}


@pytest.mark.parametrize(
    ("users", "status", "message"),
    [
        ({"code": "INVALID_TOKEN"}, 401, "refused the access token (Zoho: INVALID_TOKEN)"),
        ({"code": "INTERNAL_ERROR"}, 500, "answered HTTP 500 (INTERNAL_ERROR)"),
        ({"users": []}, 200, "has no email or zgid"),
        ({"users": [{"id": "1"}]}, 200, "has no email or zgid"),
    ],
)
def test_current_user_name_failures_are_unexpected_answers(accounts, users, status, message):
    accounts.answer("/crm/v8/users", users, status=status)
    accounts.answer("/crm/v8/org", {"org": [{"zgid": "700000042"}]})
    with pytest.raises(ZohoError, match=re.escape(message)):
        client.current_user_name(accounts.url, "1000.secret-access")
