# test_zoho.py: the first call exchanges a grant at the fake and stores the token
import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations

from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore


@pytest.mark.django_db  # the store keeps tokens in the (test) database
def test_first_call_exchanges_the_grant_and_stores_the_token(
    fake_zoho, fake_zoho_settings, tmp_path
):
    # fake_zoho_settings: ZOHO_TOKENS at the fake, with a throwaway encryption key
    code = fake_zoho.add_grant(email="ann@example.com", zgid="700000001")
    Initializer.initialize(
        environment=DataCenter.Environment(fake_zoho.url, fake_zoho.token_url, fake_zoho.url),
        token=OAuthToken(client_id="1000.TEST", client_secret="test-secret", grant_token=code),
        store=DjangoTokenStore(),
        resource_path=str(tmp_path),
    )

    users = UsersOperations().get_users().get_object().get_users()

    assert users[0].get_email() == "ann@example.com"
    assert fake_zoho.counters["grant"] == 1
    assert ZohoToken.objects.get().user_name == "ann@example.com:700000001"
