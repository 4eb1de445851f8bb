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


@never_cache
@staff_member_required
def home(request: HttpRequest) -> HttpResponse:
    fake_url = getattr(settings, "DEMO_FAKE_ZOHO_URL", None)
    if request.method == "POST":
        if fake_url:
            try:
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
    }
    return render(request, "demo/home.html", context)
