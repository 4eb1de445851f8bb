"""The pytest plugin users' tests rely on: the docs' testing examples run as written, the
``expire_access_tokens`` knob expires tokens in the fake and in the store, and a failing
store shows its real cause instead of a logging ``TypeError`` from the SDK."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations

from tests.helpers import ROOT
from zoho_tokens.models import ZohoToken

EXAMPLES = ROOT / "docs" / "examples" / "testing"


def example(name: str) -> dict:
    """The docs example module ``name``, executed (its test functions are then called with
    this test's fixtures, as pytest would in a user's project)."""
    path: Path = EXAMPLES / name
    namespace: dict = {"__name__": path.stem}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def test_the_conftest_example_loads_the_plugin():
    assert example("conftest.py")["pytest_plugins"] == ["zoho_tokens.testing.pytest_plugin"]


@pytest.mark.django_db
def test_the_first_example_exchanges_a_grant_and_stores_the_token(
    fake_zoho, fake_zoho_settings, tmp_path
):
    example("test_zoho.py")["test_first_call_exchanges_the_grant_and_stores_the_token"](
        fake_zoho, fake_zoho_settings, tmp_path
    )
    assert ZohoToken.objects.get().user_name == "ann@example.com:700000001"


@pytest.mark.django_db
def test_the_records_example_runs(fake_zoho, fake_zoho_settings, tmp_path):
    example("test_leads.py")["test_leads"](fake_zoho, fake_zoho_settings, tmp_path)
    assert [r["Last_Name"] for r in fake_zoho.records("Leads")] == ["Ng", "Okafor"]


@pytest.mark.django_db
def test_expire_access_tokens_expires_them_in_the_fake_and_in_the_store(
    fake_zoho, fake_zoho_settings, expire_access_tokens, tmp_path
):
    example("test_expiry.py")["test_an_expired_token_is_refreshed_once"](
        fake_zoho, fake_zoho_settings, expire_access_tokens, tmp_path
    )
    row = ZohoToken.objects.get()
    assert fake_zoho.counters["refresh"] == 1
    assert expire_access_tokens() == 1  # one stored token expired
    assert ZohoToken.objects.get().expiry_time < row.expiry_time


@pytest.mark.django_db
def test_a_store_that_cannot_save_shows_its_cause_not_a_logging_error(
    fake_zoho, settings, caplog, init_sdk
):
    """No key the store may use (DEBUG off, an insecure SECRET_KEY): the SDK only logs the
    save error as ``error(message, exception)``; pytest's log capture (``caplog`` here, the
    report's capture in a user's run) must format it and show the cause."""
    settings.DEBUG = False
    settings.SECRET_KEY = "django-insecure-" + "x" * 40
    settings.ZOHO_TOKENS = {"ACCOUNTS_URL": fake_zoho.url, "API_DOMAIN": fake_zoho.url}
    caplog.set_level(logging.ERROR, logger="SDKLogger")
    init_sdk(OAuthToken(client_id="1000.T", client_secret="s", grant_token=fake_zoho.add_grant()))

    with pytest.raises(SDKException):  # the SDK logs the failed save and goes on
        UsersOperations().get_users()

    saves = [r for r in caplog.records if r.name == "SDKLogger" and "saving" in r.getMessage()]
    assert saves, caplog.text
    message = saves[0].getMessage()
    assert "ENCRYPTION_KEYS" in message  # the real cause, readable
    assert "TypeError" not in caplog.text
