"""One rule says which accounts server issued a token (``datacenters.issuer``): the server a
save records is the server refresh and revoke post the client secret to.

Save and refresh/revoke used to decide it each on their own (save stripped the SDK
environment's token URL to a base, refresh did not, so a token saved under an environment
was refreshed at a URL that was not its server). These tests go through the public paths (the store's save,
``services.refresh_now`` and ``services.revoke``) against fake Zohos, so they fail when the
paths disagree again.
"""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter as SDKDataCenter

from tests.helpers import oauth_token
from zoho_tokens import services
from zoho_tokens.datacenters import DATA_CENTERS, accounts_url_for, issuer
from zoho_tokens.exceptions import TokenInvalidError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.testing import FakeZoho

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "1000.ISSUERCLIENT", "issuer-client-secret-0123456789"
REFRESH = "1000.issuer-refresh-token"


@pytest.fixture
def home_settings(settings, zoho_settings_for):
    """The fake as home accounts server and API domain, with this module's own client."""
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }


@pytest.fixture
def rogue():
    """A server no setting trusts."""
    fake = FakeZoho().start()
    yield fake
    fake.stop()


def save_under(init_sdk, sdk_env, api_domain: str) -> ZohoToken:
    """Store a connection through the SDK's store while the SDK's environment is ``sdk_env``
    (as after ``Initializer.initialize``), the row keeping no server of its own."""
    token = oauth_token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH,
        access_token="1000.issuer-access",
        expires_in="1893456000000",
        api_domain=api_domain,
        user_name="ida@example.eu:900000007",
    )
    if sdk_env is not None:
        init_sdk(token, environment=sdk_env)
    DjangoTokenStore(refresh_ahead=False).save_token(token)
    return ZohoToken.objects.get(user_name="ida@example.eu:900000007")


def test_a_token_is_refreshed_and_revoked_where_its_save_says_it_was_issued(
    home_settings, fake_zoho, eu, init_sdk
):
    eu.add_refresh_token(
        REFRESH,
        email="ida@example.eu",
        zgid="900000007",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    row = save_under(init_sdk, SDKDataCenter.Environment(eu.url, eu.token_url, eu.url), eu.url)
    assert row.accounts_server == eu.url
    # A row stored before servers were recorded: the rule decides again, the same way.
    ZohoToken.objects.filter(pk=row.pk).update(accounts_server="")

    refreshed = services.refresh_now(ZohoToken.objects.get(pk=row.pk))
    assert eu.counters["refresh_ok"] >= 1
    assert fake_zoho.counters["requests"] == 0
    assert not refreshed.invalid_reason

    # Zoho at the issuing server no longer knows it: certain, so the row goes.
    eu.revoke_all()
    ZohoToken.objects.filter(pk=row.pk).update(accounts_server="")
    outcome = services.revoke(ZohoToken.objects.get(pk=row.pk))
    assert (outcome.ok, (outcome.status == "revoked")) == (True, False)
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_an_sdk_environment_at_a_server_no_setting_trusts_is_used_but_never_recorded(
    home_settings, fake_zoho, rogue, init_sdk
):
    """The project's own SDK environment is code, so its process refreshes there (as the SDK
    would); the database never learns that server, so no other process sends a secret to it."""
    env = SDKDataCenter.Environment(fake_zoho.url, rogue.token_url, fake_zoho.url)
    row = save_under(init_sdk, env, fake_zoho.url)
    assert row.accounts_server == ""

    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=0)
    with pytest.raises(TokenInvalidError):  # the rogue does not know the token
        services.refresh_now(ZohoToken.objects.get(pk=row.pk))
    assert rogue.counters["requests"] >= 1
    assert fake_zoho.counters["requests"] == 0


@pytest.mark.parametrize("dc", sorted(DATA_CENTERS))
def test_each_data_centers_tokens_are_recorded_and_refreshed_at_its_accounts_server(settings, dc):
    settings.ZOHO_TOKENS = {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    api_domain = DATA_CENTERS[dc].api_domain()
    row = save_under(None, None, api_domain)
    assert row.accounts_server == issuer(api_domain) == DATA_CENTERS[dc].accounts_url
    assert accounts_url_for(api_domain, "") == accounts_url_for(api_domain, row.accounts_server)
