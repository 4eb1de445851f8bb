"""The demo page: both ways to connect Zoho, and (with the demo's fake Zoho) fresh grant codes.

Grant codes come from the fake's ``/fake/grants`` (JSON); "Mint fresh codes" asks the fake
for new ones. Without ``DEMO_FAKE_ZOHO_URL`` (real Zoho) the page only links the two paths.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from zoho_tokens import health, services
from zoho_tokens.models import ZohoToken

TIMEOUT = 5


def _fake_grants(url: str, *, mint: bool = False) -> list[dict[str, Any]]:
    """The fake's fresh grant codes (``mint``: first give every user without one a new one)."""
    grants_url = url.rstrip("/") + "/fake/grants"
    if mint:
        reply = requests.post(grants_url, data={}, timeout=TIMEOUT)
    else:
        reply = requests.get(grants_url, timeout=TIMEOUT)
    reply.raise_for_status()
    return list(reply.json()["grants"])


def _revoke_at_fake(request: HttpRequest, fake_url: str, user: str) -> None:
    """The fake Zoho revokes the user's refresh tokens (the user removed the app)."""
    url = fake_url.rstrip("/") + "/fake/revoke-user"
    revoked = requests.post(url, data={"user": user}, timeout=TIMEOUT).json()["revoked"]
    messages.info(
        request,
        _("The fake Zoho revoked %(n)d refresh token(s) of %(user)s. Refresh now to find out.")
        % {"n": revoked, "user": user},
    )


def _refresh_all(request: HttpRequest) -> None:
    """Refresh every connection now: a revoked one is found dead (and notified)."""
    report = services.refresh_tokens(source="admin", actor=request.user)
    for outcome in report.outcomes:
        level = messages.SUCCESS if outcome.ok else messages.ERROR
        messages.add_message(request, level, f"{outcome.label}: {outcome.message}")


@never_cache
@staff_member_required
def home(request: HttpRequest) -> HttpResponse:
    fake_url = getattr(settings, "DEMO_FAKE_ZOHO_URL", None)
    if request.method == "POST":
        action = request.POST.get("action", "mint")
        if action == "refresh":
            _refresh_all(request)
        elif fake_url:
            try:
                if action == "revoke":
                    _revoke_at_fake(request, fake_url, request.POST.get("user", ""))
                else:
                    _fake_grants(fake_url, mint=True)
            except (requests.RequestException, ValueError, KeyError):
                messages.error(request, _("The fake Zoho did not answer."))
        return HttpResponseRedirect(reverse("demo-home"))
    grants: list[dict[str, Any]] = []
    fake_error = ""
    if fake_url:
        try:
            grants = _fake_grants(fake_url)
            if not grants:  # first visit, or every code used: mint one per user
                grants = _fake_grants(fake_url, mint=True)
        except (requests.RequestException, ValueError, KeyError) as exc:
            fake_error = type(exc).__name__
    context = {
        **admin.site.each_context(request),
        "title": _("zoho-tokens demo"),
        "fake_url": fake_url,
        "fake_error": fake_error,
        "grants": grants,
        "health": health.check(),
        "users": ZohoToken.objects.exclude(user_name=None).values_list("user_name", flat=True),
    }
    return render(request, "demo/home.html", context)
