"""Finding 2 of issue 21: an ``api_domain`` decides where the access token and CRM data go.

Only Zoho's API domains of the known data centers (parsed origin, exact host, https) and
the configured ``API_DOMAIN`` may receive an access token. A value that is neither is refused
on import and save (one line naming it), ignored with a warning when found in the database,
and never builds an SDK environment or an HTTP request. The attacker here is a second fake
Zoho on 127.0.0.1 that records every request it gets.
"""

from __future__ import annotations

import csv
import logging
from typing import Any

import pytest

from tests.factories import ZohoTokenFactory
from tests.helpers import changelist_url, current_email, now_ms, oauth_token, run_command
from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import (
    DATA_CENTERS,
    ENVIRONMENTS,
    data_center_label,
    data_center_of,
    trusted_api_domain,
)
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.importers import FILESTORE_HEADER
from zoho_tokens.models import ZohoToken
from zoho_tokens.sdk import environment_for, use_zoho
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.testing import FakeZoho

ZOHO_API = {
    "us": "zohoapis.com",
    "eu": "zohoapis.eu",
    "in": "zohoapis.in",
    "au": "zohoapis.com.au",
    "cn": "zohoapis.com.cn",
    "jp": "zohoapis.jp",
    "uk": "zohoapis.uk",
    "ca": "zohoapis.ca",
    "sa": "zohoapis.sa",
}


@pytest.fixture
def attacker():
    """A server on 127.0.0.1 that is neither Zoho nor configured: it must get nothing."""
    fake = FakeZoho().start()
    yield fake
    fake.stop()


def hostile_values(attacker_url: str) -> list[str]:
    port = attacker_url.rsplit(":", 1)[1]
    return [
        f"http://127.0.0.1:{port}?.zohoapis.com",  # the reproduced exfiltration
        f"http://127.0.0.1:{port}#.zohoapis.com",
        f"http://127.0.0.1:{port}/.zohoapis.com",
        attacker_url,
        "https://evil.zohoapis.com",  # a look-alike subdomain, not Zoho's API host
        "https://www.zohoapis.com.evil.example",
        "https://www.zohoapis.com@evil.example",
        "http://www.zohoapis.com",  # not https: the token would cross the wire in clear
        "https://www.zohoapis.com:8443",
        "https://www.zohoapis.com/crm?x=1",
        "ftp://www.zohoapis.com",
        "www.zohoapis.com",
    ]


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("dc", sorted(ZOHO_API))
@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_zohos_api_domains_are_trusted_exactly(settings, dc, env):
    settings.ZOHO_TOKENS = {}
    prefix = {"production": "www", "sandbox": "sandbox", "developer": "developer"}[env]
    url = f"https://{prefix}.{ZOHO_API[dc]}"
    assert trusted_api_domain(url) == url
    assert trusted_api_domain(url + "/") == url
    assert trusted_api_domain(url.upper().replace("HTTPS", "https")) == url
    assert data_center_of(url) == dc
    assert data_center_label(url) == dc.upper()


def test_hostile_api_domains_are_not_trusted_and_have_no_data_center(settings, attacker):
    settings.ZOHO_TOKENS = {"API_DOMAIN": "https://crm-proxy.example.com"}
    values = hostile_values(attacker.url)
    for value in values:
        assert trusted_api_domain(value) is None, value
    # A Zoho host with a path or without a scheme still names its data center (a label),
    # though it never receives a token in that form.
    assert [data_center_of(v) for v in values[9:]] == ["us", None, "us"]
    for value in values[:9]:
        assert data_center_of(value) is None, value
        assert data_center_label(value) == "?", value
    assert trusted_api_domain(None) is None and trusted_api_domain("") is None


def test_the_configured_api_domain_is_trusted(settings, attacker):
    settings.ZOHO_TOKENS = {"API_DOMAIN": attacker.url}
    assert trusted_api_domain(attacker.url) == attacker.url
    assert trusted_api_domain(attacker.url + "/") == attacker.url
    assert trusted_api_domain(attacker.url + "?.zohoapis.com") is None
    settings.ZOHO_TOKENS = {}
    assert trusted_api_domain(attacker.url) is None


def test_every_data_center_has_its_api_domains(settings):
    settings.ZOHO_TOKENS = {}
    assert set(DATA_CENTERS) == set(ZOHO_API)


# -- refused on save and import --------------------------------------------------------------


@pytest.mark.django_db
def test_the_store_refuses_to_save_an_untrusted_api_domain(zoho_settings_for, attacker):
    store = DjangoTokenStore()
    for value in hostile_values(attacker.url)[:4]:
        token = oauth_token(
            client_id="1000.C",
            client_secret="s3cret",
            refresh_token="1000.r.r",
            user_name="ann@example.com:1",
            api_domain=value,
        )
        with pytest.raises(TokenStoreError) as caught:
            store.save_token(token)
        message = str(caught.value)
        assert value[:60] in message and "API_DOMAIN" in message
        assert "\n" not in message and "s3cret" not in message
    assert not ZohoToken.objects.exists()


@pytest.mark.django_db
def test_the_store_saves_zohos_and_the_configured_api_domain(zoho_settings_for):
    store = DjangoTokenStore()
    for n, value in enumerate(["https://www.zohoapis.eu", zoho_settings_for["API_DOMAIN"]]):
        store.save_token(
            oauth_token(
                client_id="1000.C",
                client_secret="s",
                refresh_token=f"1000.r.{n}",
                user_name=f"ann{n}@example.com:1",
                api_domain=value,
            )
        )
    assert set(ZohoToken.objects.values_list("api_domain", flat=True)) == {
        "https://www.zohoapis.eu",
        zoho_settings_for["API_DOMAIN"],
    }


@pytest.mark.django_db(transaction=True)
def test_import_refuses_an_untrusted_api_domain_in_one_line(cmd_settings, attacker, tmp_path):
    hostile = hostile_values(attacker.url)[0]
    path = tmp_path / "tokens.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FILESTORE_HEADER)
        base = ["1000.C", "s3cret-client", "1000.refresh.a", "1000.access.a", ""]
        writer.writerow(["1", "ann@example.com:1", *base, str(now_ms() + 3_600_000), "", hostile])
        good = ["1000.C", "s3cret-client", "1000.refresh.b", "1000.access.b", ""]
        writer.writerow(
            [
                "2",
                "bob@example.com:2",
                *good,
                str(now_ms() + 3_600_000),
                "",
                "https://www.zohoapis.com",
            ]
        )

    _code, out, err = run_command("zoho_tokens", "import", str(path), "-v", "2")

    assert "1 imported, 0 replaced, 0 skipped, 1 failed" in out, out
    assert hostile in out + err  # the value is named
    assert "s3cret-client" not in out + err and "1000.refresh.a" not in out + err
    assert list(ZohoToken.objects.values_list("user_name", flat=True)) == ["bob@example.com:2"]


# -- ignored when found in the database ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_api_domain_written_into_the_database_never_receives_the_token(
    fake_zoho, zoho_settings_for, sdk_resource_path, settings, attacker, caplog
):
    """The reproduced attack: one SQL UPDATE, then every use_zoho() call went to it."""
    settings.ZOHO_TOKENS = {**zoho_settings_for, "SDK_RESOURCE_PATH": sdk_resource_path}
    code = fake_zoho.add_grant(email="ann@example.com", zgid="700000001")
    row = services.exchange_grant(code, source=AuditSource.COMMAND)
    for hostile in hostile_values(attacker.url)[:4]:
        ZohoToken.objects.filter(pk=row.pk).update(api_domain=hostile)
        stored = ZohoToken.objects.get(pk=row.pk)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="zoho_tokens"):
            environment = environment_for(stored)
        assert environment.url == fake_zoho.url, hostile
        assert "ignored" in caplog.text and row.pk in caplog.text
        with use_zoho():
            assert current_email() == "ann@example.com"
    assert attacker.requests_log == []


@pytest.mark.django_db
def test_an_untrusted_stored_api_domain_is_not_handed_to_the_sdk(zoho_settings_for, attacker):
    row = ZohoTokenFactory(api_domain=hostile_values(attacker.url)[0])
    token = DjangoTokenStore().find_token_by_id(row.pk)
    assert token.get_api_domain() is None  # the SDK then uses its environment's URL
    ZohoToken.objects.filter(pk=row.pk).update(api_domain="https://www.zohoapis.eu")
    assert DjangoTokenStore().find_token_by_id(row.pk).get_api_domain() == "https://www.zohoapis.eu"


@pytest.mark.django_db
def test_admin_labels_and_filter_come_from_the_parsed_host(admin_client, settings, attacker):
    settings.ZOHO_TOKENS = {}
    us = ZohoTokenFactory(api_domain="https://www.zohoapis.com")
    hostile = ZohoTokenFactory(api_domain=hostile_values(attacker.url)[0])
    lookalike = ZohoTokenFactory(api_domain="https://evil.zohoapis.com")

    def shown(query: str) -> set[str]:
        response = admin_client.get(changelist_url() + query)
        return {r.pk for r in response.context["cl"].result_list}

    assert shown("?data_center=us") == {us.pk}
    assert shown("?data_center=other") == {hostile.pk, lookalike.pk}
    from django.contrib import admin

    token_admin: Any = admin.site._registry[ZohoToken]
    shown_label = token_admin.data_center(hostile)
    assert shown_label.startswith("?<br>") and "127.0.0.1" in shown_label
    assert token_admin.data_center(us).startswith("US<br>")
