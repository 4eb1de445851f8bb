"""Unit tests of the data center table: accounts servers and CRM API domains per region.

The expected URLs are written out here (from Zoho's documentation and the SDK's
``zohocrmsdk.src.com.zoho.crm.api.dc`` classes), not derived from the module under test, so
a typo in the table fails. The UK region, which the SDK lacks, is in ``test_regions.py`` too.
"""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.crm.api.dc import (
    AUDataCenter,
    CADataCenter,
    CNDataCenter,
    EUDataCenter,
    INDataCenter,
    JPDataCenter,
    SADataCenter,
    USDataCenter,
)

from zoho_tokens.datacenters import (
    DATA_CENTERS,
    ENVIRONMENTS,
    accounts_base_url,
    api_domain_for,
    data_center_of,
)
from zoho_tokens.exceptions import ConfigurationError

# name -> (accounts server, CRM API host without the environment prefix)
EXPECTED = {
    "us": ("https://accounts.zoho.com", "zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "zohoapis.com.au"),
    "cn": ("https://accounts.zoho.com.cn", "zohoapis.com.cn"),
    "jp": ("https://accounts.zoho.jp", "zohoapis.jp"),
    "uk": ("https://accounts.zoho.uk", "zohoapis.uk"),
    "ca": ("https://accounts.zohocloud.ca", "zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "zohoapis.sa"),
}
PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}
SDK = {
    "us": USDataCenter,
    "eu": EUDataCenter,
    "in": INDataCenter,
    "au": AUDataCenter,
    "cn": CNDataCenter,
    "jp": JPDataCenter,
    "ca": CADataCenter,
    "sa": SADataCenter,
}
EVERY_DC_AND_ENV = [(dc, env) for dc in EXPECTED for env in PREFIX]


@pytest.fixture(autouse=True)
def _no_overrides(settings):
    """No ACCOUNTS_URL/API_DOMAIN from the environment: the table itself is under test."""
    settings.ZOHO_TOKENS = {}


def test_the_table_has_every_region_and_environment():
    assert set(DATA_CENTERS) == set(EXPECTED)
    assert set(ENVIRONMENTS) == set(PREFIX)


# -- accounts_base_url --------------------------------------------------------------------------


@pytest.mark.parametrize("dc", sorted(EXPECTED))
def test_accounts_base_url_of_each_data_center(dc):
    assert accounts_base_url(dc) == EXPECTED[dc][0]
    assert accounts_base_url(dc.upper()) == EXPECTED[dc][0]


@pytest.mark.parametrize("dc", sorted(EXPECTED))
def test_accounts_base_url_defaults_to_the_data_center_setting(settings, dc):
    settings.ZOHO_TOKENS = {"DATA_CENTER": f" {dc.upper()} "}
    assert accounts_base_url() == EXPECTED[dc][0]


def test_accounts_base_url_defaults_to_us():
    assert accounts_base_url() == "https://accounts.zoho.com"


def test_accounts_url_setting_wins_over_any_data_center(settings):
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "http://127.0.0.1:8765/", "DATA_CENTER": "eu"}
    assert accounts_base_url() == "http://127.0.0.1:8765"
    assert accounts_base_url("jp") == "http://127.0.0.1:8765"
    assert accounts_base_url("mars") == "http://127.0.0.1:8765"  # never looked up


@pytest.mark.parametrize("name", ["mars", "usa", "com", "zoho.com", "u s"])
def test_unknown_data_center_names_are_a_configuration_error(name):
    with pytest.raises(ConfigurationError) as info:
        accounts_base_url(name)
    message = str(info.value)
    assert f"unknown Zoho data center {name!r}" in message
    assert "use one of us, eu, in, au, cn, jp, uk, ca, sa" in message
    assert "\n" not in message


def test_an_unknown_data_center_setting_is_a_configuration_error(settings):
    settings.ZOHO_TOKENS = {"DATA_CENTER": "Mars"}
    with pytest.raises(ConfigurationError, match="unknown Zoho data center 'mars'"):
        accounts_base_url()
    with pytest.raises(ConfigurationError, match="unknown Zoho data center 'mars'"):
        api_domain_for()


# -- api_domain_for -----------------------------------------------------------------------------


@pytest.mark.parametrize(("dc", "env"), EVERY_DC_AND_ENV)
def test_api_domain_of_each_data_center_and_environment(dc, env):
    expected = f"https://{PREFIX[env]}.{EXPECTED[dc][1]}"
    assert api_domain_for(dc, env) == expected
    assert api_domain_for(dc.upper(), env.capitalize()) == expected


@pytest.mark.parametrize(("dc", "env"), [(dc, env) for dc, env in EVERY_DC_AND_ENV if dc in SDK])
def test_our_urls_are_the_sdks(dc, env):
    """Where the SDK knows the region, our table and its classes name the same servers."""
    sdk = getattr(SDK[dc], env.upper())()
    assert api_domain_for(dc, env) == sdk.url
    assert accounts_base_url(dc) + "/oauth/v2/token" == sdk.accounts_url


def test_api_domain_defaults_to_the_settings(settings):
    assert api_domain_for() == "https://www.zohoapis.com"
    settings.ZOHO_TOKENS = {"DATA_CENTER": "au", "ENVIRONMENT": "Sandbox"}
    assert api_domain_for() == "https://sandbox.zohoapis.com.au"
    assert api_domain_for("eu") == "https://sandbox.zohoapis.eu"
    assert api_domain_for(environment="developer") == "https://developer.zohoapis.com.au"


def test_api_domain_setting_wins(settings):
    settings.ZOHO_TOKENS = {"API_DOMAIN": "http://127.0.0.1:8765/", "DATA_CENTER": "eu"}
    assert api_domain_for() == "http://127.0.0.1:8765"
    assert api_domain_for("jp", "sandbox") == "http://127.0.0.1:8765"


@pytest.mark.parametrize("env", ["prod", "live", "test", "www"])
def test_unknown_environments_are_a_configuration_error(env):
    with pytest.raises(ConfigurationError) as info:
        api_domain_for("us", env)
    assert f"unknown Zoho environment {env!r}" in str(info.value)
    assert "use one of production, sandbox, developer" in str(info.value)


# -- data_center_of -----------------------------------------------------------------------------


@pytest.mark.parametrize(("dc", "env"), EVERY_DC_AND_ENV)
def test_data_center_of_every_api_domain(dc, env):
    host = f"{PREFIX[env]}.{EXPECTED[dc][1]}"
    assert data_center_of(f"https://{host}") == dc
    assert data_center_of(f"https://{host}/") == dc
    assert data_center_of(f"https://{host}/crm/v8/users?type=CurrentUser") == dc
    assert data_center_of(f"https://{host.upper()}") == dc
    assert data_center_of(host) == dc  # without a scheme too
    assert data_center_of(api_domain_for(dc, env)) == dc  # the two functions agree


def test_longer_suffixes_are_not_taken_for_shorter_ones():
    """zohoapis.com.au and .com.cn end in neither ``.zohoapis.com`` nor each other."""
    assert data_center_of("https://www.zohoapis.com.au") == "au"
    assert data_center_of("https://www.zohoapis.com.cn") == "cn"
    assert data_center_of("https://www.zohoapis.com") == "us"


@pytest.mark.parametrize(
    "api_domain",
    [
        None,
        "",
        "https://zohoapis.com",  # no environment host: not an api domain Zoho gives
        "https://www.zohoapis.com.evil.example",
        "https://evilzohoapis.com",
        "https://www.zohoapis.de",
        "https://www.zoho.com",
        "https://accounts.zoho.eu",
        "http://127.0.0.1:8765",
        "https://evil.example/https://www.zohoapis.eu",
    ],
)
def test_unknown_hosts_belong_to_no_data_center(api_domain):
    assert data_center_of(api_domain) is None


def test_the_fake_zohos_data_center_reads_fake_zoho_demo(settings):
    from zoho_tokens.datacenters import data_center_label

    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "http://127.0.0.1:8123", "API_DOMAIN": None}
    assert data_center_label("http://127.0.0.1:8123") == "fake Zoho (demo)"
    assert data_center_label("http://127.0.0.1:9999") == "?"  # not the configured fake
    assert data_center_label("https://www.zohoapis.eu") == "EU"
    assert data_center_label("") == "—"
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "https://proxy.example.com"}
    assert data_center_label("https://proxy.example.com") == "?"  # not loopback: not the fake
