"""Refresh and revoke go to the accounts server that issued the token (finding 6).

Two fake Zohos play two data centers: ``home`` is the configured ``ACCOUNTS_URL``, ``eu`` is
registered as the EU data center's accounts server. A token issued by ``eu`` is refreshed and
revoked there, whatever ``ACCOUNTS_URL`` says; the refresh token travels in the POST body, so
it is in no URL (proxy logs, urllib3's debug log); and "invalid token" from a server that is
not known to have issued the token is not a revocation.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, ZohoTokenFactory
from zoho_tokens import services
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.outcomes import line
from zoho_tokens.testing import FakeZoho

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "1000.DCCLIENT", "dc-client-secret-0123456789"


@pytest.fixture
def home(fake_zoho):
    return fake_zoho


@pytest.fixture
def dc_settings(settings, home):
    settings.ZOHO_TOKENS = {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "ACCOUNTS_URL": home.url,
        "API_DOMAIN": home.url,
        "HTTP_TIMEOUT": 2,
    }
    return settings.ZOHO_TOKENS


def connect_at(fake: FakeZoho) -> ZohoToken:
    code = fake.add_grant(email="eve@example.eu", zgid="900000001")
    return services.exchange_grant(code, accounts_url=fake.url)


def test_the_exchange_records_its_accounts_server(dc_settings, home, eu):
    assert connect_at(eu).accounts_server == eu.url
    assert ZohoToken.objects.get().accounts_server == eu.url


def test_a_token_of_another_data_center_is_refreshed_and_revoked_where_it_was_issued(
    dc_settings, home, eu
):
    row = connect_at(eu)
    before = row.access_token

    refreshed = services.refresh_now(row)
    assert refreshed.access_token != before
    assert eu.counters["refresh_ok"] == 1
    assert home.counters["requests"] == 0
    assert not refreshed.invalid_reason

    outcome = services.revoke(ZohoToken.objects.get(pk=row.pk))
    assert (outcome.ok, (outcome.status == "revoked")) == (True, True)
    assert not eu.is_refresh_token_valid(row.refresh_token)
    assert home.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_revoke_sends_the_refresh_token_in_the_body_never_in_a_url(dc_settings, home, caplog):
    row = connect_at(home)
    caplog.set_level(logging.DEBUG)
    outcome = services.revoke(row)
    assert (outcome.ok, (outcome.status == "revoked")) == (True, True)
    assert not home.is_refresh_token_valid(row.refresh_token)
    revokes = [path for method, path, _ in home.requests_log if "/revoke" in path]
    assert revokes == ["/oauth/v2/token/revoke"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/oauth/v2/token/revoke" in logged  # urllib3 did log the request line
    assert row.refresh_token not in logged


def test_invalid_token_from_a_server_that_did_not_issue_it_is_not_a_revocation(
    dc_settings, home, eu
):
    # Issued by eu, but nothing recorded says so (e.g. imported): the configured server,
    # which never saw it, answers "invalid token".
    refresh = eu.add_refresh_token(email="eve@example.eu", client_id=CLIENT_ID)
    row = ZohoTokenFactory(
        client_id=CLIENT_ID, refresh_token=refresh, api_domain="https://crm.example.net"
    )
    outcome = services.revoke(row)
    assert (outcome.ok, (outcome.status == "revoked")) == (False, False)
    assert outcome.status == "kept" and "does not know this token" in line(outcome)
    assert "issued" in outcome.message
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert eu.is_refresh_token_valid(refresh)
    failed = TokenAuditEvent.objects.get(action="revoke_failed")
    assert failed.token_id == row.pk
    assert not TokenAuditEvent.objects.filter(action="revoked").exists()


def test_invalid_token_from_the_issuing_server_deletes_the_row(dc_settings, home, eu):
    row = connect_at(eu)
    eu.revoke_all()  # the user removed the app at Zoho
    outcome = services.revoke(row)
    assert (outcome.ok, (outcome.status == "revoked")) == (True, False)
    assert not ZohoToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_web_callback_records_zohos_accounts_server(dc_settings, settings, home, eu):
    settings.ZOHO_TOKENS = {**dc_settings, "API_DOMAIN": eu.url}
    user = UserFactory(username="connector")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="zoho_tokens", codename="add_zohotoken")
    )
    client = Client()
    client.force_login(user)
    response = client.get(reverse("zoho_tokens:connect"))
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    code = eu.add_grant(email="eve@example.eu")
    response = client.get(
        "/zoho/callback/",
        {"state": state, "code": code, "location": "eu", "accounts-server": eu.url},
    )
    assert response.status_code == 302, response.content[:500]
    assert ZohoToken.objects.get().accounts_server == eu.url
