# test_expiry.py: an access token that dies; the store refreshes it once
import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations

from zoho_tokens.store import DjangoTokenStore


@pytest.mark.django_db
def test_an_expired_token_is_refreshed_once(
    fake_zoho, fake_zoho_settings, expire_access_tokens, tmp_path
):
    Initializer.initialize(
        environment=DataCenter.Environment(fake_zoho.url, fake_zoho.token_url, fake_zoho.url),
        token=OAuthToken(
            client_id="1000.TEST", client_secret="test-secret", grant_token=fake_zoho.add_grant()
        ),
        store=DjangoTokenStore(),
        resource_path=str(tmp_path),
    )
    assert UsersOperations().get_users().get_status_code() == 200

    expire_access_tokens()  # in the fake (401 INVALID_TOKEN) and in the store

    assert UsersOperations().get_users().get_status_code() == 200
    assert fake_zoho.counters["refresh"] == 1
