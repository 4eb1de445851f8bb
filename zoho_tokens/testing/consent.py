"""The fake accounts server's pages: the consent page at ``/oauth/v2/auth`` and ``/fake/grants``.

Zoho's consent page lets the signed-in user approve an app; the fake has no sign-in, so it
lists its users and lets the tester pick one. The redirect then carries exactly what Zoho's
does (``code``, ``state``, ``location``, ``accounts-server``), or ``error=access_denied``.
Plain HTML forms, no JavaScript, and every echoed value escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from zoho_tokens.testing.identities import GrantCode, ZohoIdentity
from zoho_tokens.testing.replies import Reply, html, redirect

__all__ = [
    "AUTH_PATH",
    "GRANTS_PATH",
    "REVOKE_USER_PATH",
    "Client",
    "approved",
    "check_authorize",
    "consent_page",
    "denied",
    "error_page",
    "grants_page",
]

AUTH_PATH = "/oauth/v2/auth"
GRANTS_PATH = "/fake/grants"
#: POST ``user``: revoke that user's refresh tokens, as the user removing the app would.
REVOKE_USER_PATH = "/fake/revoke-user"
#: The authorization request's parameters, carried through the consent form unchanged.
CARRIED = ("client_id", "redirect_uri", "scope", "state", "response_type", "access_type", "prompt")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}"
    "li{margin:.5rem 0}button{padding:.3rem .9rem}table{border-collapse:collapse}"
    "td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}"
    "code{word-break:break-all}"
)


@dataclass(frozen=True)
class Client:
    """An app registered with the fake accounts server (Zoho's API console entry)."""

    client_id: str
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def error_page(status: int, title: str, message: str) -> Reply:
    """Zoho answers a bad authorization request with an HTML error page, not a redirect."""
    body = f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"
    return html(status, _page(title, body))


def check_authorize(params: Mapping[str, str], clients: Mapping[str, Client]) -> Reply | None:
    """An error page for a request Zoho would refuse before showing consent, else None.

    With no client registered (``FakeZoho.add_client``) any client id is accepted, like the
    fake's token endpoint; once one is registered, only registered ones are.
    """
    client_id = params.get("client_id", "")
    if not client_id or (clients and client_id not in clients):
        return error_page(
            400, "Invalid Client", f"The client_id {client_id!r} is not known to this server."
        )
    redirect_uri = params.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    allowed = clients[client_id].redirect_uris if client_id in clients else ()
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        return error_page(400, "Invalid Redirect Uri", "The redirect_uri is not a valid URL.")
    if allowed and redirect_uri not in allowed:
        return error_page(
            400,
            "Invalid Redirect Uri",
            "The redirect_uri does not match the one registered for this client.",
        )
    if params.get("response_type") != "code":
        return error_page(400, "Invalid Response Type", "Only response_type=code is supported.")
    if not params.get("scope"):
        return error_page(400, "Invalid Scope", "The scope parameter is missing.")
    return None


def consent_page(params: Mapping[str, str], users: Iterable[ZohoIdentity]) -> Reply:
    """The page a user sees at Zoho: which app asks for which scopes; approve or deny."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in CARRIED
        if name in params
    )
    scopes = "".join(f"<li><code>{escape(s)}</code></li>" for s in params["scope"].split(","))
    choices = "".join(
        f'<li><form method="post" action="{AUTH_PATH}">{hidden}'
        f'<input type="hidden" name="user" value="{escape(u.user_name)}">'
        f'<button type="submit" name="decision" value="approve">Approve as '
        f"{escape(u.email)}</button> {escape(u.company)} (org {escape(u.org_id)})</form></li>"
        for u in users
    )
    if not choices:
        choices = "<li>No users yet: register one with <code>fake.add_user(...)</code>.</li>"
    body = (
        "<h1>Fake Zoho: authorize an application</h1>"
        f"<p>The client <code>{escape(params['client_id'])}</code> asks for:</p>"
        f"<ul>{scopes}</ul>"
        f"<p>It will be sent back to <code>{escape(params['redirect_uri'])}</code>.</p>"
        f'<h2>Sign in as</h2><ul class="users">{choices}</ul>'
        f'<form method="post" action="{AUTH_PATH}">{hidden}'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
    )
    return html(200, _page("Fake Zoho: authorize", body))


def approved(params: Mapping[str, str], code: str, location: str, accounts_server: str) -> Reply:
    """Zoho's redirect after consent: code, state, location and accounts-server."""
    query = {"code": code, "location": location, "accounts-server": accounts_server}
    return redirect(_with_query(params["redirect_uri"], _with_state(query, params)))


def denied(params: Mapping[str, str]) -> Reply:
    """Zoho's redirect when the user declines."""
    query = _with_state({"error": "access_denied"}, params)
    return redirect(_with_query(params["redirect_uri"], query))


def grants_page(grants: Iterable[GrantCode], users: Iterable[ZohoIdentity]) -> Reply:
    """Fresh grant codes to paste into a "connect with a grant token" form, and a mint button."""
    rows = "".join(
        f"<tr><td>{escape(g.user.email)}</td><td>{escape(g.user.company)}</td>"
        f"<td><code>{escape(g.code)}</code></td><td>{g.expires_in} s</td></tr>"
        for g in grants
    )
    options = "".join(
        f'<option value="{escape(u.user_name)}">{escape(u.email)}</option>' for u in users
    )
    body = (
        "<h1>Fake Zoho: fresh grant codes</h1>"
        "<table><thead><tr><th>User</th><th>Company</th><th>Grant code</th>"
        f"<th>Expires in</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<form method="post" action="{GRANTS_PATH}"><select name="user">'
        f'<option value="">every user without a fresh code</option>{options}</select> '
        '<button type="submit">Mint grant codes</button></form>'
        "<h2>Kill a connection</h2>"
        f'<form method="post" action="{REVOKE_USER_PATH}"><select name="user">{options}</select> '
        '<button type="submit" id="revoke-user">Revoke this user\'s refresh tokens</button> '
        "(as if the user removed the app in their Zoho account)</form>"
    )
    return html(200, _page("Fake Zoho: grant codes", body))


def _with_state(query: dict[str, str], params: Mapping[str, str]) -> dict[str, str]:
    if "state" in params:
        return {"state": params["state"], **query}
    return query


def _with_query(url: str, query: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    joined = "&".join(p for p in (parts.query, urlencode(query)) if p)
    return urlunsplit(parts._replace(query=joined))
