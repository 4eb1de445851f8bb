"""The "Connect Zoho CRM" web flow: ``connect`` sends the user to Zoho, ``callback`` stores.

Thin over ``services.exchange_grant``. What the views guard:

- Only users allowed to connect for the tenant get through (``zoho_tokens.access``: the
  ``CONNECT_PERMISSION``, and no silent fall-back to the default tenant): 403 otherwise, at
  connect and again at the callback.
- ``state`` is one-time, bound to the session, the user and the tenant that started the flow;
  anything else (including a malformed value) is refused with 400 before any other work.
- The code is exchanged only at one of Zoho's accounts servers (``datacenters.DATA_CENTERS``) or the
  configured ``ACCOUNTS_URL``: the exchange carries the client secret, and ``accounts-server``
  comes from the query string, which anyone can forge.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from zoho_tokens import access, services
from zoho_tokens.conf import key_list, zoho_settings
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import DATA_CENTERS, accounts_base_url, origin_of
from zoho_tokens.exceptions import ZohoTokensError, describe
from zoho_tokens.tenancy import current_tenant

SESSION_KEY = "zoho_tokens_oauth_states"
STATE_MAX_AGE = 600  # seconds: the user may have to log in at Zoho first
MAX_PENDING_STATES = 5  # a few tabs at once; older ones are dropped
AUTH_PATH = "/oauth/v2/auth"
#: What ``secrets.token_urlsafe`` makes; anything else is not one of our states.
STATE_FORMAT = re.compile(r"[A-Za-z0-9_-]{16,128}")

ERROR_TEMPLATE = "zoho_tokens/connect_error.html"
DENIED_TEMPLATE = "zoho_tokens/access_denied.html"

BAD_STATE = _(
    "This Zoho connection link has expired or was already used. "
    "Start again from the Connect Zoho CRM page."
)
OTHER_TENANT = _(
    "Only staff who may add Zoho tokens in the admin can connect Zoho CRM for another tenant."
)
#: The admin's "Connect with a grant token" permission: it lets staff pick any tenant.
ADMIN_CONNECT_PERMISSION = "zoho_tokens.add_zohotoken"
BAD_SERVER = _(
    "Zoho's answer names an accounts server that is not Zoho's; nothing was sent to it. "
    "Start again from the Connect Zoho CRM page."
)


def _error(request: HttpRequest, message: Any, status: int) -> HttpResponse:
    return render(request, ERROR_TEMPLATE, {"message": message}, status=status)


def redirect_uri(request: HttpRequest) -> str:
    """``REDIRECT_URL`` if set, else this site's callback URL."""
    return zoho_settings.REDIRECT_URL or request.build_absolute_uri(reverse("zoho_tokens:callback"))


@never_cache
@login_required
def connect(request: HttpRequest) -> HttpResponse:
    """Send the user to Zoho's consent page with a one-time state for this session and tenant."""
    if not zoho_settings.CLIENT_ID or not zoho_settings.CLIENT_SECRET:
        return _error(
            request,
            _("Zoho is not configured: set ZOHO_TOKENS['CLIENT_ID'] and ['CLIENT_SECRET']."),
            500,
        )
    tenant = current_tenant()
    asked = request.GET.get("tenant")
    if asked is not None and asked != tenant:
        # The admin's "Reconnect" link names the tenant: only for staff who may connect any
        # tenant in the admin already ("Connect with a grant token" has a tenant field).
        if not (request.user.is_staff and request.user.has_perm(ADMIN_CONNECT_PERMISSION)):
            return _error(request, OTHER_TENANT, 403)
        tenant = asked[:64]
    refusal = access.connect_refusal(request, tenant)
    if refusal is not None:
        return _error(request, refusal, 403)
    if access.connect_throttled(request):
        limit = zoho_settings.CONNECT_RATE_LIMIT
        response = _error(request, access.TOO_MANY % {"limit": limit}, 429)
        response["Retry-After"] = str(access.RATE_WINDOW)
        return response
    scope, unknown = requested_scope(request.GET.get("scopes", ""))
    if unknown:
        message = _(
            "These scopes may not be requested here: %(scopes)s. Ask for scopes listed in "
            "ZOHO_TOKENS['EXTRA_SCOPES']."
        ) % {"scopes": ", ".join(unknown)[:300]}
        return _error(request, message, 400)
    try:
        auth_url = accounts_base_url() + AUTH_PATH
    except ZohoTokensError as exc:
        return _error(request, describe(exc), exc.status_code)
    state = secrets.token_urlsafe(32)
    callback_url = redirect_uri(request)
    pending = _pending(request)
    pending[state] = {
        "tenant": tenant,
        "user": str(request.user.pk),
        "redirect_uri": callback_url,
        "created": int(time.time()),
    }
    newest = sorted(pending.items(), key=lambda item: item[1]["created"])[-MAX_PENDING_STATES:]
    request.session[SESSION_KEY] = dict(newest)
    query = urlencode(
        {
            "scope": scope,
            "client_id": zoho_settings.CLIENT_ID,
            "response_type": "code",
            "access_type": "offline",
            "prompt": "consent",
            "redirect_uri": callback_url,
            "state": state,
        }
    )
    return HttpResponseRedirect(f"{auth_url}?{query}")


@never_cache
@sensitive_variables("code")
def callback(request: HttpRequest) -> HttpResponse:
    """Check the state, then exchange Zoho's code at a trusted accounts server and store it."""
    bound = _take_state(request)
    if bound is None:
        return _error(request, BAD_STATE, 400)
    refusal = access.connect_refusal(request, bound["tenant"])
    if refusal is not None:
        return _error(request, refusal, 403)

    error = request.GET.get("error")
    if error == "access_denied":
        return render(request, DENIED_TEMPLATE, {"retry_url": reverse("zoho_tokens:connect")})
    if error:
        return _error(request, _("Zoho refused the connection (Zoho: %s).") % error[:80], 400)

    code = request.GET.get("code", "").strip()
    if not code:
        return _error(request, _("Zoho's answer has no authorization code."), 400)

    trusted = trusted_accounts_server(
        request.GET.get("accounts-server"), request.GET.get("location")
    )
    if trusted is None:
        return _error(request, BAD_SERVER, 400)
    accounts_url, data_center = trusted

    try:
        row = services.exchange_grant(
            code,
            redirect_url=bound["redirect_uri"],
            data_center=data_center,
            accounts_url=accounts_url,
            tenant=bound["tenant"],
            source=AuditSource.WEB,
            actor=request.user,
        )
    except ZohoTokensError as exc:
        return _error(request, describe(exc), exc.status_code)
    messages.success(
        request,
        _("Zoho CRM is connected as %(user)s.") % {"user": row.user_name},
        fail_silently=True,
    )
    return HttpResponseRedirect(resolve_url(zoho_settings.SUCCESS_URL))


def requested_scope(extra: str) -> tuple[str, list[str]]:
    """(the scopes to ask Zoho for, the requested ones that are not allowed).

    Always ``SCOPES``; plus the scopes the ``scopes`` parameter names (comma- or
    space-separated) when each is in ``EXTRA_SCOPES``: a project adds, say, Books to a CRM
    connection by sending the user to ``connect?scopes=ZohoBooks.fullaccess.all``. Zoho's
    new grant carries every scope asked for, and it replaces the user's older connection.
    """
    base = key_list(zoho_settings.SCOPES)
    allowed = {s.lower(): s for s in [*base, *key_list(zoho_settings.EXTRA_SCOPES)]}
    wanted = [s for s in extra.replace(" ", ",").split(",") if s.strip()]
    unknown = [s.strip()[:100] for s in wanted if s.strip().lower() not in allowed]
    added = [allowed[s.strip().lower()] for s in wanted if s.strip().lower() in allowed]
    return ",".join(dict.fromkeys(base + added)), unknown


def _pending(request: HttpRequest) -> dict[str, dict[str, Any]]:
    value = request.session.get(SESSION_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _take_state(request: HttpRequest) -> dict[str, Any] | None:
    """Pop the request's state from the session; None unless it is live and this user's."""
    state = request.GET.get("state", "")
    pending = _pending(request)
    if not STATE_FORMAT.fullmatch(state) or not pending:
        return None
    match = next((key for key in pending if secrets.compare_digest(key, state)), None)
    if match is None:
        return None
    bound = pending.pop(match)
    request.session[SESSION_KEY] = pending
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or str(user.pk) != bound.get("user"):
        return None
    if time.time() - bound.get("created", 0) > STATE_MAX_AGE:
        return None
    return bound


def trusted_accounts_server(
    server: str | None, location: str | None = None
) -> tuple[str, str | None] | None:
    """``(accounts base URL, data center or None)`` when ``server`` may get the secret.

    Trusted: Zoho's accounts servers and the configured ``ACCOUNTS_URL``, compared exactly by
    scheme and host (with port), so no path, user info or look-alike host gets through.
    Without ``accounts-server``, Zoho's ``location`` (a data center name) picks the server;
    without both, the configured one is used. An unknown ``location`` is refused, never a
    fallback to the default data center.
    """
    allowed: dict[str, str | None] = {
        origin_of(dc.accounts_url) or "": name for name, dc in DATA_CENTERS.items()
    }
    if zoho_settings.ACCOUNTS_URL:
        configured = origin_of(str(zoho_settings.ACCOUNTS_URL))
        if configured:
            allowed.setdefault(configured, None)
    dc = (location or "").lower()
    if dc and dc not in DATA_CENTERS:
        return None
    if server is None:
        if dc:
            return DATA_CENTERS[dc].accounts_url, dc
        try:
            return accounts_base_url(), None
        except ZohoTokensError:
            return None
    configured_url = str(zoho_settings.ACCOUNTS_URL or "").rstrip("/")
    if configured_url and server.strip().rstrip("/") == configured_url:
        return configured_url, None
    origin = origin_of(server)
    if origin is None or origin not in allowed:
        return None
    return origin, allowed[origin]
