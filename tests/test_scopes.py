"""Stored scopes: Zoho's ``scope`` answer is kept at exchange and refresh, and callers that
name the scopes they need get ``ScopeMissingError`` (naming them) instead of a Zoho error."""

from __future__ import annotations

import io

import pytest
import requests

import zoho_tokens
from tests.helpers import now_ms
from zoho_tokens import services
from zoho_tokens.exceptions import NoConnection, ScopeMissingError
from zoho_tokens.http import ZohoAuth
from zoho_tokens.models import ZohoToken
from zoho_tokens.sdk import use_zoho
from zoho_tokens.testing.tokens import SCOPE

USER = "scopes@example.com:700000051"
BOOKS = "ZohoBooks.fullaccess.all"

pytestmark = pytest.mark.django_db


def test_the_scope_zoho_answers_at_exchange_is_stored(fake_zoho, zoho_settings_for):
    code = fake_zoho.add_grant(email="ann@example.com", scope=f"{SCOPE},{BOOKS}")
    row = services.exchange_grant(code, accounts_url=fake_zoho.url)
    assert row.scope == f"{SCOPE},{BOOKS}"
    assert ZohoToken.objects.get().scope.split(",")[-1] == BOOKS


def test_the_scope_zoho_answers_at_refresh_is_stored(fake_zoho, live_token):
    row = live_token(USER, scope=f"{SCOPE},{BOOKS}")
    assert row.scope == ""  # stored before scopes were recorded
    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 30_000)
    zoho_tokens.access_token(USER)
    assert fake_zoho.counters["refresh"] == 1
    assert ZohoToken.objects.get(pk=row.pk).scope == f"{SCOPE},{BOOKS}"


def test_a_missing_scope_is_named_with_what_to_do(live_token):
    live_token(USER, scope=SCOPE)
    ZohoToken.objects.update(scope=SCOPE)
    with pytest.raises(ScopeMissingError) as caught:
        zoho_tokens.access_token(USER, scopes=["ZohoCRM.modules.ALL", BOOKS])
    assert caught.value.missing == [BOOKS]
    assert BOOKS in str(caught.value) and "connect it again" in str(caught.value)
    assert isinstance(caught.value, NoConnection)
    assert zoho_tokens.access_token(USER, scopes=["zohocrm.modules.all"])  # any case


def test_zohoauth_with_a_missing_scope_sends_nothing(fake_zoho, live_token):
    live_token(USER, scope=SCOPE)
    ZohoToken.objects.update(scope=SCOPE)
    url = fake_zoho.url + "/books/v3/organizations"
    with pytest.raises(ScopeMissingError, match=BOOKS):
        requests.get(url, auth=ZohoAuth(USER, scopes=[BOOKS]), timeout=5)
    assert fake_zoho.counters["api"] == 0
    ZohoToken.objects.update(scope=f"{SCOPE},{BOOKS}")
    response = requests.get(url, auth=ZohoAuth(USER, scopes=[BOOKS]), timeout=5)
    assert response.status_code == 401  # the fake's grant really lacks it: Zoho decides


def test_use_zoho_checks_scopes_before_the_sdk_runs(live_token):
    live_token(USER, scope=SCOPE)
    ZohoToken.objects.update(scope=SCOPE)
    with pytest.raises(ScopeMissingError, match=BOOKS), use_zoho(USER, scopes=[BOOKS]):
        pass


def test_unknown_scopes_are_not_held_against_a_connection(live_token):
    row = live_token(USER)
    assert row.scope == ""
    assert zoho_tokens.access_token(USER, scopes=[BOOKS]) == row.access_token


def test_the_check_names_connections_lacking_a_scope_in_scopes(live_token, settings):
    from zoho_tokens import checks

    live_token(USER)
    live_token("old@example.com:700000052")  # scopes unknown: not counted
    ZohoToken.objects.filter(user_name=USER).update(scope=SCOPE)
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SCOPES": f"ZohoCRM.modules.ALL,{BOOKS}"}
    messages = checks.check_connections_have_scopes(databases=["default"])
    assert [m.id for m in messages] == [checks.CheckId.CONNECTIONS_LACK_SCOPES]
    assert f"reconnect needed: {BOOKS} (1)" in messages[0].msg
    assert USER in messages[0].msg and "old@example.com" not in messages[0].msg
    ZohoToken.objects.filter(user_name=USER).update(scope=f"{SCOPE},{BOOKS}")
    assert checks.check_connections_have_scopes(databases=["default"]) == []


def test_list_and_the_admin_show_the_scopes(live_token, admin_client):
    from django.core.management import call_command
    from django.urls import reverse

    row = live_token(USER)
    ZohoToken.objects.update(scope=f"{SCOPE},{BOOKS}")
    out = io.StringIO()
    call_command("zoho_tokens", "list", stdout=out)
    assert "SCOPES" in out.getvalue() and f"{SCOPE},{BOOKS}" in out.getvalue()
    page = admin_client.get(reverse("admin:zoho_tokens_zohotoken_change", args=[row.pk]))
    assert page.status_code == 200
    assert f"{BOOKS}" in page.content.decode()
