"""Where an access token may go (``datacenters.access_token_may_go_to``): Zoho's API hosts
of the token's own data center, API_DOMAIN and API_HOSTS; nothing else."""

from __future__ import annotations

import pytest

from zoho_tokens.datacenters import access_token_may_go_to, api_hosts

EU = "https://www.zohoapis.eu"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.zohoapis.eu/crm/v8/coql",
        "https://www.zohoapis.eu/books/v3/organizations",
        "https://sandbox.zohoapis.eu/crm/v8/Leads",
        "https://desk.zoho.eu/api/v1/tickets",
        "https://projectsapi.zoho.eu/restapi/portals/",
        "https://WWW.ZOHOAPIS.EU:443/crm/v8/users",
    ],
)
def test_zoho_api_hosts_of_the_tokens_data_center_are_allowed(url, settings):
    settings.ZOHO_TOKENS = {}
    assert access_token_may_go_to(url, EU)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.zohoapis.com/crm/v8/users",  # another data center
        "http://www.zohoapis.eu/crm/v8/users",  # not over TLS
        "https://www.zohoapis.eu:8443/crm/v8/users",
        "https://www.zohoapis.eu.evil.example/crm/v8/users",
        "https://evil.example/?www.zohoapis.eu",
        "https://user@www.zohoapis.eu/crm/v8/users",
        "https://accounts.zoho.eu/oauth/v2/token",  # accounts servers take no access token
        "https://zohoapis.eu/crm/v8/users",
        "not a url",
    ],
)
def test_anything_else_is_refused(url, settings):
    settings.ZOHO_TOKENS = {}
    assert not access_token_may_go_to(url, EU)


def test_the_data_center_setting_decides_for_a_token_without_a_zoho_api_domain(settings):
    settings.ZOHO_TOKENS = {"DATA_CENTER": "ca"}
    assert access_token_may_go_to("https://desk.zohocloud.ca/api/v1/tickets", None)
    assert access_token_may_go_to("https://www.zohoapis.ca/crm/v8/users", None)
    assert not access_token_may_go_to("https://www.zohoapis.com/crm/v8/users", None)


def test_api_domain_and_api_hosts_are_trusted_exactly(settings):
    settings.ZOHO_TOKENS = {
        "API_DOMAIN": "http://127.0.0.1:8001",
        "API_HOSTS": ["zoho-proxy.example.com", "http://10.0.0.5:9000"],
    }
    assert access_token_may_go_to("http://127.0.0.1:8001/crm/v8/users", None)
    assert not access_token_may_go_to("http://127.0.0.1:8002/crm/v8/users", None)
    assert access_token_may_go_to("https://zoho-proxy.example.com/books/v3/x", EU)
    assert not access_token_may_go_to("http://zoho-proxy.example.com/books/v3/x", EU)
    assert access_token_may_go_to("http://10.0.0.5:9000/api/v1/tickets", EU)


def test_every_data_center_has_crm_books_desk_and_projects_hosts():
    for dc, zoho in [
        ("us", "zoho.com"),
        ("au", "zoho.com.au"),
        ("uk", "zoho.uk"),
        ("sa", "zoho.sa"),
    ]:
        hosts = api_hosts(dc)
        assert {f"desk.{zoho}", f"projectsapi.{zoho}"} <= hosts
        assert any(h.startswith("www.zohoapis.") for h in hosts)
