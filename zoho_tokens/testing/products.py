"""Zoho products besides CRM that accept the same access token: a Books-like and a Desk-like
API, and CRM's COQL endpoint.

Enough for tests of code that calls them with ``requests``/``httpx`` and
``zoho_tokens.http.ZohoAuth``: each checks the access token and the scopes its grant
carried, and answers with the product's own shapes:

- Books ``GET /books/v3/organizations`` (scope ``ZohoBooks.fullaccess.all`` or
  ``ZohoBooks.settings.READ``/``ALL``), as on ``www.zohoapis.com/books/v3``;
- Desk ``GET /api/v1/tickets`` (scope ``Desk.tickets.READ``/``ALL``), as on
  ``desk.zoho.com/api/v1``; Desk names its error in ``errorCode``;
- CRM ``POST /crm/v8/coql`` with ``{"select_query": "select F1, F2 from Module [limit N]"}``
  (no ``where``: this fake answers ``SYNTAX_ERROR`` to anything else).

A token Zoho no longer knows (expired, dropped, revoked) gets HTTP 401 with Zoho's
``INVALID_TOKEN`` (CRM, Books) or ``INVALID_OAUTH`` (Desk); a token without the scope gets
HTTP 401 ``OAUTH_SCOPE_MISMATCH`` (CRM, Books) or ``SCOPE_MISMATCH`` (Desk).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from zoho_tokens.testing.identities import ZohoIdentity
from zoho_tokens.testing.replies import INVALID_TOKEN_BODY, Reply, json_reply

__all__ = ["BOOKS_SCOPES", "DESK_SCOPES", "handles", "product_reply"]

BOOKS_PREFIX = "/books/v3/"
DESK_PREFIX = "/api/v1/"
COQL_PATH = re.compile(r"^/crm/v[678]/coql$")
BOOKS_SCOPES = frozenset(
    {"ZohoBooks.fullaccess.all", "ZohoBooks.settings.READ", "ZohoBooks.settings.ALL"}
)
DESK_SCOPES = frozenset({"Desk.tickets.READ", "Desk.tickets.ALL"})
SCOPE_MISMATCH_BODY: dict[str, Any] = {
    "code": "OAUTH_SCOPE_MISMATCH",
    "details": {},
    "message": "invalid oauth scope to access this URL",
    "status": "error",
}
DESK_INVALID_BODY = {
    "errorCode": "INVALID_OAUTH",
    "message": "The OAuth Token you provided is invalid.",
}
DESK_SCOPE_BODY = {
    "errorCode": "SCOPE_MISMATCH",
    "message": "You do not have sufficient scope to access this resource.",
}
COQL_QUERY = re.compile(
    r"^\s*select\s+(?P<fields>[\w\s,]+?)\s+from\s+(?P<module>\w+)(?:\s+limit\s+(?P<limit>\d+))?\s*;?\s*$",
    re.IGNORECASE,
)


def handles(method: str, path: str) -> bool:
    """Whether ``path`` is one of this module's endpoints."""
    if method == "POST" and COQL_PATH.match(path):
        return True
    return method == "GET" and path in (BOOKS_PREFIX + "organizations", DESK_PREFIX + "tickets")


def product_reply(
    method: str,
    path: str,
    who: tuple[ZohoIdentity, frozenset[str]] | None,
    body: bytes,
    records: Callable[[str, str], list[dict[str, Any]]],
) -> Reply:
    """Answer a product request. ``who``: the token's user and granted scopes, or None for a
    token Zoho does not accept; ``records(module, org_id)`` reads the fake CRM's records."""
    if path.startswith(DESK_PREFIX):
        if who is None:
            return json_reply(401, DESK_INVALID_BODY)
        if not who[1] & DESK_SCOPES:
            return json_reply(401, DESK_SCOPE_BODY)
        return json_reply(200, {"data": [{"id": "1", "subject": f"Help {who[0].email}"}]})
    if who is None:
        return json_reply(401, INVALID_TOKEN_BODY)
    identity, scopes = who
    if path.startswith(BOOKS_PREFIX):
        if not scopes & BOOKS_SCOPES:
            return json_reply(401, SCOPE_MISMATCH_BODY)
        org = {"organization_id": identity.org_id, "name": identity.company}
        return json_reply(200, {"code": 0, "message": "success", "organizations": [org]})
    return _coql(identity, body, records)


def _coql(
    identity: ZohoIdentity,
    body: bytes,
    records: Callable[[str, str], list[dict[str, Any]]],
) -> Reply:
    try:
        query = json.loads(body or b"{}").get("select_query", "")
    except (ValueError, AttributeError):
        query = ""
    match = COQL_QUERY.match(str(query))
    if match is None:
        error = {
            "code": "SYNTAX_ERROR",
            "details": {},
            "message": "error in query",
            "status": "error",
        }
        return json_reply(400, error)
    fields = [f.strip() for f in match["fields"].split(",") if f.strip()]
    limit = int(match["limit"] or 200)
    try:
        found = records(match["module"], identity.org_id)
    except (KeyError, ValueError):
        error = {
            "code": "INVALID_QUERY",
            "details": {},
            "message": "invalid module",
            "status": "error",
        }
        return json_reply(400, error)
    data = [{"id": r.get("id"), **{f: r.get(f) for f in fields}} for r in found[:limit]]
    if not data:
        return Reply(204, "", b"")
    info = {"count": len(data), "more_records": len(found) > limit}
    return json_reply(200, {"data": data, "info": info})
