"""The "Connect Zoho CRM" web flow, end to end with the Django test client and the fake Zoho."""

from __future__ import annotations

import time

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import may_connect, start_connect
from zoho_tokens import signals
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.views import SESSION_KEY, trusted_accounts_server

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "/zoho/callback/"
REDIRECT = "https://app.example.com/zoho/callback/"


@pytest.fixture
def web_settings(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "TENANT_RESOLVER": "tests.helpers.tenant_from_header",
        "CONNECT_PERMISSION": "tests.helpers.connectors",
        "SUCCESS_URL": "/done/",
    }
    return settings.ZOHO_TOKENS


@pytest.fixture
def user():
    return may_connect(UserFactory(username="owner"))


@pytest.fixture
def browser(user, web_settings) -> Client:
    client = Client(HTTP_X_TENANT="acme")
    client.force_login(user)
    return client


@pytest.fixture
def exchanged():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.grant_exchanged.connect(receiver)
    yield received
    signals.grant_exchanged.disconnect(receiver)


@pytest.fixture
def no_outbound_http(monkeypatch):
    """Fail the test if anything tries to open an HTTP connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError("an HTTP request was attempted")

    monkeypatch.setattr(requests.Session, "send", refuse)
    monkeypatch.setattr(requests, "post", refuse)
    monkeypatch.setattr(requests, "get", refuse)
    return attempts


def finish(browser: Client, state: str, code: str, server: str, **extra: str):
    params = {"state": state, "code": code, "location": "us", "accounts-server": server, **extra}
    return browser.get(CALLBACK, params)


def test_connect_redirects_to_zoho_with_a_one_time_state(browser, fake_zoho, web_settings):
    location, query = start_connect(browser)

    assert location.startswith(fake_zoho.url + "/oauth/v2/auth?")
    assert query["client_id"] == web_settings["CLIENT_ID"]
    assert query["scope"] == (
        "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"
    )
    assert query["response_type"] == "code"
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["redirect_uri"] == "http://testserver/zoho/callback/"
    assert len(query["state"]) >= 32
    assert web_settings["CLIENT_SECRET"] not in location
    assert browser.session[SESSION_KEY][query["state"]]["tenant"] == "acme"

    _, again = start_connect(browser)
    assert again["state"] != query["state"]


def test_connect_uses_the_data_center_and_redirect_url_settings(settings, browser, web_settings):
    settings.ZOHO_TOKENS = {
        **web_settings,
        "ACCOUNTS_URL": None,
        "DATA_CENTER": "eu",
        "REDIRECT_URL": REDIRECT,
        "SCOPES": "ZohoCRM.modules.ALL",
    }
    location, query = start_connect(browser)
    assert location.startswith("https://accounts.zoho.eu/oauth/v2/auth?")
    assert query["redirect_uri"] == REDIRECT
    assert query["scope"] == "ZohoCRM.modules.ALL"


def test_connect_requires_login(client, web_settings):
    response = client.get(reverse("zoho_tokens:connect"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert SESSION_KEY not in client.session


def test_full_flow_stores_the_connection_for_the_tenant(
    browser, user, fake_zoho, exchanged, web_settings
):
    _, query = start_connect(browser)
    code = fake_zoho.add_grant(email="ann@acme.example", zgid="700000077")

    response = finish(browser, query["state"], code, fake_zoho.url)

    assert response.status_code == 302
    assert response["Location"] == "/done/"
    row = ZohoToken.objects.get()
    assert row.tenant == "acme"
    assert row.user_name == "ann@acme.example:700000077"
    assert row.client_id == web_settings["CLIENT_ID"]
    assert fake_zoho.is_access_token_valid(row.access_token)
    assert fake_zoho.is_refresh_token_valid(row.refresh_token)
    assert row.redirect_url == "http://testserver/zoho/callback/"
    assert [(e["source"], e["actor"], e["token"].pk) for e in exchanged] == [("web", user, row.pk)]
    event = TokenAuditEvent.objects.get(action="grant_exchanged")
    assert (event.source, event.actor_id, event.tenant) == ("web", user.pk, "acme")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Zoho CRM is connected as ann@acme.example:700000077."]

    # The state was one-time: replaying the same callback is refused, nothing else happens.
    before = fake_zoho.counters["requests"]
    replay = finish(browser, query["state"], code, fake_zoho.url)
    assert replay.status_code == 400
    assert fake_zoho.counters["requests"] == before


def test_callback_stores_for_the_tenant_bound_to_the_state(browser, fake_zoho, web_settings):
    """A single callback URL (no tenant at that host) still stores for the starting tenant."""
    _, query = start_connect(browser)
    code = fake_zoho.add_grant(email="ann@acme.example")
    browser.defaults.pop("HTTP_X_TENANT")

    assert finish(browser, query["state"], code, fake_zoho.url).status_code == 302
    assert ZohoToken.objects.get().tenant == "acme"


def test_a_second_connect_of_the_same_user_replaces_the_row(browser, fake_zoho, exchanged):
    for _ in range(2):
        _, query = start_connect(browser)
        code = fake_zoho.add_grant(email="ann@acme.example", zgid="700000077")
        assert finish(browser, query["state"], code, fake_zoho.url).status_code == 302

    row = ZohoToken.objects.get()
    assert fake_zoho.counters["grant_ok"] == 2
    assert fake_zoho.is_access_token_valid(row.access_token)
    assert len(exchanged) == 2


def test_the_same_zoho_user_in_two_tenants_gets_two_rows(browser, user, fake_zoho):
    for tenant in ("acme", "globex"):
        browser.defaults["HTTP_X_TENANT"] = tenant
        _, query = start_connect(browser)
        code = fake_zoho.add_grant(email="ann@example.com")
        assert finish(browser, query["state"], code, fake_zoho.url).status_code == 302

    assert sorted(ZohoToken.objects.values_list("tenant", flat=True)) == ["acme", "globex"]


@pytest.mark.parametrize("state", [None, "", "forged-state-value"])
def test_missing_or_unknown_state_is_refused(browser, fake_zoho, state):
    start_connect(browser)
    code = fake_zoho.add_grant()
    params = {"code": code, "accounts-server": fake_zoho.url}
    if state is not None:
        params["state"] = state
    before = fake_zoho.counters["requests"]

    response = browser.get(CALLBACK, params)

    assert response.status_code == 400
    assert fake_zoho.counters["requests"] == before
    assert not ZohoToken.objects.exists()


def test_another_sessions_state_is_refused(browser, user, fake_zoho, web_settings):
    _, query = start_connect(browser)
    other = Client(HTTP_X_TENANT="acme")
    other.force_login(may_connect(UserFactory(username="intruder")))
    start_connect(other)  # the other session has states of its own
    code = fake_zoho.add_grant()

    response = finish(other, query["state"], code, fake_zoho.url)

    assert response.status_code == 400
    assert fake_zoho.counters["grant"] == 0
    assert not ZohoToken.objects.exists()
    # The victim's state is still usable by the victim.
    assert finish(browser, query["state"], code, fake_zoho.url).status_code == 302


def test_state_of_a_user_who_logged_in_as_someone_else_is_refused(browser, fake_zoho):
    _, query = start_connect(browser)
    browser.force_login(UserFactory(username="someone-else"))  # flushes the session
    assert SESSION_KEY not in browser.session
    # Even a state carried over into the new login belongs to the old user.
    code = fake_zoho.add_grant()
    session = browser.session
    bound = {"tenant": "acme", "user": "-1", "redirect_uri": REDIRECT, "created": int(time.time())}
    session[SESSION_KEY] = {query["state"]: bound}
    session.save()

    assert finish(browser, query["state"], code, fake_zoho.url).status_code == 400
    assert not ZohoToken.objects.exists()


@pytest.mark.parametrize(
    "server",
    [
        "https://evil.example.com",
        "http://accounts.zoho.com",  # right host, wrong scheme
        "https://accounts.zoho.com.evil.example.com",
        "https://accounts.zoho.com@evil.example.com",
        "https://evil.example.com/https://accounts.zoho.com",
        "https://accounts.zoho.com:8443",
        "",
        "javascript:alert(1)",
    ],
)
def test_foreign_accounts_server_is_refused_without_any_request(
    browser, fake_zoho, no_outbound_http, server
):
    _, query = start_connect(browser)
    code = fake_zoho.add_grant()
    before = fake_zoho.counters.snapshot()

    response = finish(browser, query["state"], code, server)

    assert response.status_code == 400
    assert b"not Zoho" in response.content
    assert fake_zoho.counters.snapshot() == before
    assert no_outbound_http == []
    assert not ZohoToken.objects.exists()


def test_trusted_accounts_servers(web_settings, fake_zoho):
    assert trusted_accounts_server("https://accounts.zoho.eu") == ("https://accounts.zoho.eu", "eu")
    assert trusted_accounts_server("https://ACCOUNTS.ZOHOCLOUD.CA/") == (
        "https://accounts.zohocloud.ca",
        "ca",
    )
    assert trusted_accounts_server(fake_zoho.url) == (fake_zoho.url, None)
    assert trusted_accounts_server(None, "in") == ("https://accounts.zoho.in", "in")
    assert trusted_accounts_server(None, None) == (fake_zoho.url, None)
    assert trusted_accounts_server("https://accounts.zoho.com/oauth") is None


def test_access_denied_shows_a_friendly_page(browser, fake_zoho):
    _, query = start_connect(browser)

    response = browser.get(CALLBACK, {"state": query["state"], "error": "access_denied"})

    assert response.status_code == 200
    assert b"You did not allow access to Zoho CRM" in response.content
    assert reverse("zoho_tokens:connect").encode() in response.content
    assert response.templates[0].name == "zoho_tokens/access_denied.html"
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_zoho_error_shows_the_safe_message_with_502(browser, fake_zoho, web_settings):
    _, query = start_connect(browser)
    code = fake_zoho.add_grant()
    assert finish(browser, query["state"], code, fake_zoho.url).status_code == 302
    ZohoToken.objects.all().delete()

    _, query = start_connect(browser)
    response = finish(browser, query["state"], code, fake_zoho.url)  # a used grant code

    assert response.status_code == 502
    assert response.templates[0].name == "zoho_tokens/connect_error.html"
    assert b"already used or has expired" in response.content
    assert web_settings["CLIENT_SECRET"].encode() not in response.content
    assert code.encode() not in response.content
    assert not ZohoToken.objects.exists()


def test_unreachable_zoho_is_a_502(browser, fake_zoho):
    _, query = start_connect(browser)
    code = fake_zoho.add_grant()
    fake_zoho.fail_mode = "500"
    response = finish(browser, query["state"], code, fake_zoho.url)
    assert response.status_code == 502
    assert not ZohoToken.objects.exists()


def test_callback_without_code_is_refused(browser, fake_zoho):
    _, query = start_connect(browser)
    response = browser.get(CALLBACK, {"state": query["state"], "accounts-server": fake_zoho.url})
    assert response.status_code == 400
    assert fake_zoho.counters["requests"] == 0
