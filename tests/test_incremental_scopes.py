"""The connect page asks Zoho for extra scopes for an existing connection
(``connect?scopes=...``, each one allowed by ``EXTRA_SCOPES``): in a real browser through the
fake Zoho's consent page, the connection then carries them and a Books call works."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

import zoho_tokens
from tests.factories import UserFactory
from zoho_tokens.exceptions import ScopeMissingError
from zoho_tokens.http import ZohoAuth
from zoho_tokens.models import ZohoToken
from zoho_tokens.testing.tokens import SCOPE

USER = "grow@example.com:700000061"
BOOKS = "ZohoBooks.fullaccess.all"
PASSWORD = "scopes-pw-123456789"


@pytest.fixture
def scope_settings(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "SCOPES": SCOPE, "EXTRA_SCOPES": [BOOKS]}
    return settings.ZOHO_TOKENS


def consent_query(client: Client, scopes: str):
    response = client.get(reverse("zoho_tokens:connect"), {"scopes": scopes})
    return response, parse_qs(urlsplit(response.get("Location", "")).query)


@pytest.mark.django_db
def test_connect_adds_allowed_extra_scopes_and_refuses_others(scope_settings):
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    response, query = consent_query(client, f"{BOOKS.lower()} ZohoCRM.modules.ALL")
    assert response.status_code == 302
    assert query["scope"] == [f"{SCOPE},{BOOKS}"]
    response, _ = consent_query(client, "ZohoMail.accounts.ALL")
    assert response.status_code == 400
    assert "ZohoMail.accounts.ALL" in response.content.decode()
    assert "EXTRA_SCOPES" in response.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_books_added_to_a_crm_connection_in_a_real_browser(
    browser, live_server, fake_zoho, live_token, scope_settings
):
    from selenium.webdriver.common.by import By

    row = live_token(USER, scope=SCOPE)
    ZohoToken.objects.update(scope=SCOPE)
    with pytest.raises(ScopeMissingError):
        zoho_tokens.access_token(USER, scopes=[BOOKS])
    UserFactory(username="owner", is_superuser=True, password=PASSWORD)

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("owner")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "content")
    browser.get(f"{live_server.url}{reverse('zoho_tokens:connect')}?scopes={BOOKS}")
    assert "/oauth/v2/auth" in browser.current_url
    assert BOOKS in parse_qs(urlsplit(browser.current_url).query)["scope"][0]
    browser.find_element(
        By.XPATH, "//button[normalize-space()='Approve as grow@example.com']"
    ).click()
    success = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert "grow@example.com" in success

    stored = ZohoToken.objects.get(user_name=USER)
    assert BOOKS in stored.scope.split(",")
    assert stored.refresh_token != row.refresh_token  # the new grant replaced the old one
    url = fake_zoho.url + "/books/v3/organizations"
    response = requests.get(url, auth=ZohoAuth(USER, scopes=[BOOKS]), timeout=5)
    assert response.status_code == 200
