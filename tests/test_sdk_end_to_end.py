"""The real SDK, the real store, real HTTP to the fake Zoho."""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

from tests.helpers import by_name, crm_users, current_email, now_ms
from zoho_tokens.models import ZohoToken

pytestmark = pytest.mark.django_db(transaction=True)

USER = "ann@example.com:700000042"


def login(fake_zoho, init_sdk, **grant):
    code = fake_zoho.add_grant(email="ann@example.com", zgid="700000042", **grant)
    token = OAuthToken(client_id="1000.CID", client_secret="csecret", grant_token=code)
    init_sdk(token)
    return token


def test_grant_login_api_call_reuse_refresh_and_relogin(fake_zoho, init_sdk, zoho_settings_for):
    login(fake_zoho, init_sdk)
    assert current_email() == "ann@example.com"

    row = ZohoToken.objects.get()
    assert row.user_name == USER
    assert row.client_id == "1000.CID"
    assert fake_zoho.is_access_token_valid(row.access_token)
    assert fake_zoho.counters["grant"] == 1

    # A fresh process-like initialisation with only the user name: no new exchange.
    Initializer.initializer = None
    init_sdk(by_name(USER))
    crm_users()
    assert fake_zoho.counters["grant"] == 1
    assert fake_zoho.counters["refresh"] == 0

    # The access token expires: a refresh happens and lands in the database.
    old_access = row.access_token
    fake_zoho.expire_access_tokens()
    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() - 1000)
    crm_users()
    assert fake_zoho.counters["refresh"] == 1
    row.refresh_from_db()
    assert row.access_token != old_access
    assert fake_zoho.is_access_token_valid(row.access_token)
    assert row.expiry_time > now_ms() + 3000 * 1000

    # The same user logs in again with a new grant token: still one row, same id.
    Initializer.initializer = None
    login(fake_zoho, init_sdk)
    crm_users()
    assert ZohoToken.objects.count() == 1
    assert ZohoToken.objects.get().pk == row.pk
    assert fake_zoho.counters["grant"] == 2
