"""Every Zoho region, including the UK one the SDK does not define; unknown regions refused."""

from __future__ import annotations

import pytest

from tests.helpers import start_connect
from zoho_tokens.datacenters import (
    DATA_CENTERS,
    accounts_base_url,
    api_domain_for,
    data_center_of,
)
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.views import trusted_accounts_server


def test_uk_is_a_data_center_with_its_own_servers(settings):
    settings.ZOHO_TOKENS = {"DATA_CENTER": "UK"}
    assert accounts_base_url() == "https://accounts.zoho.uk"
    assert api_domain_for() == "https://www.zohoapis.uk"
    assert api_domain_for(environment="sandbox") == "https://sandbox.zohoapis.uk"
    assert data_center_of("https://www.zohoapis.uk/crm/v8") == "uk"
    # Suffix matching must not confuse .uk with a longer domain ending in it.
    assert data_center_of("https://www.zohoapis.com.au") == "au"
    assert data_center_of("https://evil-zohoapis.uk") is None


def test_unknown_data_center_is_a_configuration_error(settings):
    settings.ZOHO_TOKENS = {"DATA_CENTER": "mars"}
    with pytest.raises(ConfigurationError, match="unknown Zoho data center 'mars'"):
        accounts_base_url()


@pytest.mark.parametrize("name", sorted(DATA_CENTERS))
def test_callback_trusts_each_region_by_location_and_by_server(name):
    dc = DATA_CENTERS[name]
    assert trusted_accounts_server(None, name) == (dc.accounts_url, name)
    assert trusted_accounts_server(dc.accounts_url, name) == (dc.accounts_url, name)


def test_callback_refuses_an_unknown_location_instead_of_falling_back():
    assert trusted_accounts_server(None, "mars") is None
    assert trusted_accounts_server("https://accounts.zoho.com", "mars") is None


@pytest.mark.django_db
def test_callback_answers_400_for_an_unknown_location(client, django_user_model, settings):
    settings.ZOHO_TOKENS = {"CLIENT_ID": "1000.X", "CLIENT_SECRET": "s" * 20}
    user = django_user_model.objects.create_user(
        "ann", password="pw-123456789", is_superuser=True
    )  # may connect (CONNECT_PERMISSION)
    client.force_login(user)
    _, query = start_connect(client)
    response = client.get(
        "/zoho/callback/", {"state": query["state"], "code": "1000.abc", "location": "mars"}
    )
    assert response.status_code == 400
