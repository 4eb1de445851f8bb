"""Unit tests of the callback's origin check: who may receive the client secret.

The OAuth callback's ``accounts-server`` comes from the query string, which anyone can forge;
the code is exchanged (with the client secret) only at an origin that ``_origin`` reduces
exactly to one of Zoho's accounts servers or the configured ``ACCOUNTS_URL``. The end-to-end
refusals (HTTP 400, no request made) are in ``test_web_flow.py``.
"""

from __future__ import annotations

import pytest

from zoho_tokens.datacenters import origin_of as _origin
from zoho_tokens.views import trusted_accounts_server

ZOHO_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "cn": "https://accounts.zoho.com.cn",
    "jp": "https://accounts.zoho.jp",
    "uk": "https://accounts.zoho.uk",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}


@pytest.fixture(autouse=True)
def _no_accounts_url(settings):
    """Nothing configured unless a test says so: only Zoho's own servers are trusted."""
    settings.ZOHO_TOKENS = {}


# -- _origin ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://accounts.zoho.com", "https://accounts.zoho.com"),
        ("https://accounts.zoho.com/", "https://accounts.zoho.com"),
        ("  https://accounts.zoho.eu\n", "https://accounts.zoho.eu"),
        ("HTTPS://Accounts.ZOHO.com", "https://accounts.zoho.com"),
        ("https://accounts.zoho.com:443", "https://accounts.zoho.com:443"),  # kept: exact
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost", "http://localhost"),
        ("http://[::1]:8765", "http://[::1]:8765"),
        ("http://[::1]", "http://[::1]"),
        ("https://[2001:DB8::1]/", "https://[2001:db8::1]"),
        ("https://accounts.zoho.com.", "https://accounts.zoho.com."),  # not the same host
    ],
)
def test_origin_is_scheme_host_and_port(url, origin):
    assert _origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        # user info, however it is spelled
        "https://user@accounts.zoho.com",
        "https://user:pw@accounts.zoho.com",
        "https://:pw@accounts.zoho.com",
        "https://@accounts.zoho.com",
        "https://accounts.zoho.com@evil.example",
        "https://accounts.zoho.com\\@evil.example",
        # a path, a query or a fragment
        "https://accounts.zoho.com/oauth/v2/token",
        "https://accounts.zoho.com//",
        "https://evil.example/https://accounts.zoho.com",
        "https://accounts.zoho.com?next=https://evil.example",
        "https://accounts.zoho.com#frag",
        "https://evil.example#@accounts.zoho.com",
        # not an http(s) URL with a host
        "ftp://accounts.zoho.com",
        "javascript:alert(1)",
        "//accounts.zoho.com",
        "accounts.zoho.com",
        "https://",
        "https:///accounts.zoho.com",
        "",
        "   ",
        # ports and brackets that do not parse
        "https://accounts.zoho.com:abc",
        "https://accounts.zoho.com:99999",
        "http://[::1",
        "http://[::1]:99999",
        "http://::1:8765",
    ],
)
def test_origin_refuses_anything_but_a_bare_origin(url):
    assert _origin(url) is None


# -- trusted_accounts_server: Zoho's servers ----------------------------------------------------


@pytest.mark.parametrize("dc", sorted(ZOHO_SERVERS))
def test_each_zoho_accounts_server_is_trusted_with_its_data_center(dc):
    url = ZOHO_SERVERS[dc]
    assert trusted_accounts_server(url) == (url, dc)
    assert trusted_accounts_server(url + "/") == (url, dc)
    assert trusted_accounts_server(url.upper()) == (url, dc)
    assert trusted_accounts_server(url, dc.upper()) == (url, dc)


@pytest.mark.parametrize("dc", sorted(ZOHO_SERVERS))
def test_each_zoho_server_only_exactly(dc):
    url = ZOHO_SERVERS[dc]
    host = url.removeprefix("https://")
    for forged in (
        url.replace("https://", "http://"),  # another scheme
        url + ":443",  # an explicit port is another origin
        url + ":8443",
        url + ".",  # trailing-dot host
        url + ".evil.example",
        url + "x",
        f"https://x{host}",
        f"https://{host.replace('.', '-', 1)}",
        url + "/oauth/v2/token",
        f"https://{host}@evil.example",
        f"https://evil.example@{host}",
        f"https://evil.example/{url}",
    ):
        assert trusted_accounts_server(forged) is None, forged
        assert trusted_accounts_server(forged, dc) is None, forged


@pytest.mark.parametrize(
    "server",
    [
        "https://accounts.zoho.co",
        "https://accounts.zoho.de",
        "https://accounts.zohocloud.com",
        "https://accounts.zoho.com.evil.example",
        "https://accounts.zoho.com%2eevil.example",
        "https://accounts.xn--zoho-abc.com",
        "https://zoho.com",
        "https://www.zohoapis.com",  # Zoho's, but the API, not the accounts server
        "http://127.0.0.1:8765",  # a local server is not trusted unless configured
        "",
    ],
)
def test_look_alike_and_other_hosts_are_refused(server):
    assert trusted_accounts_server(server) is None


def test_an_unknown_location_is_refused_even_with_a_zoho_server():
    assert trusted_accounts_server("https://accounts.zoho.com", "mars") is None
    assert trusted_accounts_server(None, "mars") is None
    assert trusted_accounts_server(None, "accounts.zoho.com") is None


@pytest.mark.parametrize("dc", sorted(ZOHO_SERVERS))
def test_without_a_server_the_location_picks_it(dc):
    assert trusted_accounts_server(None, dc) == (ZOHO_SERVERS[dc], dc)
    assert trusted_accounts_server(None, dc.upper()) == (ZOHO_SERVERS[dc], dc)


def test_without_server_and_location_the_configured_data_center_is_used(settings):
    assert trusted_accounts_server(None) == ("https://accounts.zoho.com", None)
    assert trusted_accounts_server(None, "") == ("https://accounts.zoho.com", None)
    settings.ZOHO_TOKENS = {"DATA_CENTER": "jp"}
    assert trusted_accounts_server(None) == ("https://accounts.zoho.jp", None)
    settings.ZOHO_TOKENS = {"DATA_CENTER": "mars"}
    assert trusted_accounts_server(None) is None  # a misconfiguration trusts nothing


# -- trusted_accounts_server: the configured ACCOUNTS_URL ---------------------------------------


def test_the_configured_accounts_url_is_trusted_exactly(settings):
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "http://127.0.0.1:8765/"}
    assert trusted_accounts_server("http://127.0.0.1:8765") == ("http://127.0.0.1:8765", None)
    assert trusted_accounts_server("http://127.0.0.1:8765/") == ("http://127.0.0.1:8765", None)
    assert trusted_accounts_server(None) == ("http://127.0.0.1:8765", None)
    for other in (
        "http://127.0.0.1:8766",
        "http://127.0.0.1",
        "https://127.0.0.1:8765",
        "http://localhost:8765",
        "http://127.0.0.2:8765",
        "http://127.0.0.1:8765/oauth/v2/token",
        "http://user@127.0.0.1:8765",
    ):
        assert trusted_accounts_server(other) is None, other
    # Zoho's own servers stay trusted beside it.
    assert trusted_accounts_server(ZOHO_SERVERS["eu"]) == (ZOHO_SERVERS["eu"], "eu")


def test_a_configured_accounts_url_with_a_path_is_trusted_only_as_written(settings):
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "https://proxy.example/zoho"}
    expected = ("https://proxy.example/zoho", None)
    assert trusted_accounts_server("https://proxy.example/zoho") == expected
    assert trusted_accounts_server("https://proxy.example/zoho/") == expected
    assert trusted_accounts_server(" https://proxy.example/zoho ") == expected
    for other in (
        "https://proxy.example",
        "https://proxy.example/",
        "https://proxy.example/zoho/oauth",
        "https://proxy.example/zoho/../evil",
        "https://proxy.example/zohox",
    ):
        assert trusted_accounts_server(other) is None, other


def test_a_configured_zoho_server_stays_trusted(settings):
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "https://accounts.zoho.eu"}
    for server in ("https://accounts.zoho.eu", "https://ACCOUNTS.zoho.eu/"):
        assert (trusted_accounts_server(server) or ("",))[0] == "https://accounts.zoho.eu"
    assert trusted_accounts_server("https://accounts.zoho.com") == (ZOHO_SERVERS["us"], "us")


def test_a_configured_ipv6_accounts_url(settings):
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": "http://[::1]:8765"}
    assert trusted_accounts_server("http://[::1]:8765") == ("http://[::1]:8765", None)
    assert trusted_accounts_server("http://[0:0::1]:8765/") is None  # same address, not as written
    assert trusted_accounts_server("http://[::1]:8766") is None
    assert trusted_accounts_server("http://[::2]:8765") is None
