"""HTTP answers of the fake Zoho as plain values, and Zoho's shared error bodies.

Kept apart from the server so the OAuth, consent and records code build answers without
knowing about sockets, and tests can call ``FakeZoho.handle_request`` directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "INVALID_TOKEN_BODY",
    "JSON_CONTENT_TYPE",
    "NOT_FOUND_BODY",
    "Reply",
    "empty",
    "html",
    "json_reply",
    "parse_form",
    "redirect",
    "zoho_error",
]

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
HTML_CONTENT_TYPE = "text/html;charset=UTF-8"

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


@dataclass(frozen=True)
class Reply:
    """One HTTP answer. An empty ``content_type`` sends no Content-Type (Zoho's 204/304)."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, data: Any) -> Reply:
    return Reply(status, JSON_CONTENT_TYPE, json.dumps(data).encode("utf-8"))


def zoho_error(status: int, code: str, message: str, **details: Any) -> Reply:
    """The CRM API's single-error shape: ``{"code", "details", "message", "status": "error"}``."""
    body = {"code": code, "details": details, "message": message, "status": "error"}
    return json_reply(status, body)


def html(status: int, page: str) -> Reply:
    return Reply(status, HTML_CONTENT_TYPE, page.encode("utf-8"))


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, "", b"", {"Location": location})


def empty(status: int) -> Reply:
    """No body and no Content-Type, as Zoho answers 204 No Content and 304 Not Modified."""
    return Reply(status, "", b"")


def parse_form(text: str) -> dict[str, str]:
    """Flatten an urlencoded string to its first values (Zoho ignores repeats too)."""
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
