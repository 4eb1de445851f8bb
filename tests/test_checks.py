"""System checks for keys, settings and the SDK."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from zoho_tokens import checks


def ids(messages) -> set[str]:
    return {m.id for m in messages}


def test_invalid_key_is_an_error(settings):
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": ["not-a-key", Fernet.generate_key().decode()]}
    messages = checks.check_encryption_keys()
    assert ids(messages) == {"zoho_tokens.E001"}
    assert "[0]" in messages[0].msg and "not-a-key" not in messages[0].msg


def test_missing_key_warns_in_debug_and_errors_in_production(settings):
    settings.ZOHO_TOKENS = {}
    settings.DEBUG = True
    assert ids(checks.check_encryption_keys()) == {"zoho_tokens.W001"}
    settings.DEBUG = False
    assert ids(checks.check_encryption_keys()) == {"zoho_tokens.E002"}


def test_valid_keys_are_clean(settings):
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    settings.DEBUG = False
    assert checks.check_encryption_keys() == []


@pytest.mark.parametrize(
    ("secret_key", "debug", "expected"),
    [
        ("a-real-secret-key-0123456789", True, {"zoho_tokens.W001"}),
        ("", False, {"zoho_tokens.W012"}),
        ("django-insecure-a-public-placeholder", False, {"zoho_tokens.E002", "zoho_tokens.E011"}),
    ],
)
def test_missing_key_hints_name_the_django_setting(settings, secret_key, debug, expected):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY, settings.DEBUG = secret_key, debug
    messages = checks.check_encryption_keys()
    assert ids(messages) == expected
    for message in messages:
        hint = message.hint or ""
        assert "ZOHO_TOKENS['ENCRYPTION_KEYS']" in hint, message.id
        assert "ZOHO_TOKENS_ENCRYPTION_KEYS" not in hint, message.id  # the demo's


def test_sdk_missing_is_an_error(monkeypatch):
    assert checks.check_sdk_importable() == []
    monkeypatch.setattr(checks, "SDK_AVAILABLE", False)
    (message,) = checks.check_sdk_importable()
    assert message.id == "zoho_tokens.E003"
    assert 'pip install "zoho-tokens[sdk8]"' in (message.hint or "")


class FakeDistribution:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


def test_one_sdk_major_is_clean():
    installed = checks.sdk_distributions()
    assert len(installed) == 1 and installed[0].startswith("zohocrmsdk")
    assert checks.check_one_sdk_major() == []


def test_several_sdk_majors_are_an_error(monkeypatch):
    dists = [
        FakeDistribution("Django", "5.2.19"),
        FakeDistribution("zohocrmsdk8_0", "7.0.0"),
        FakeDistribution("zohocrmsdk7-0", "6.0.0"),
    ]
    monkeypatch.setattr(checks.metadata, "distributions", lambda: iter(dists))
    (message,) = checks.check_one_sdk_major()
    assert message.id == "zoho_tokens.E008"
    assert "(zohocrmsdk7_0 6.0.0, zohocrmsdk8_0 7.0.0)" in message.msg
    assert (message.hint or "").startswith(
        "Keep one: pip uninstall -y zohocrmsdk7_0 zohocrmsdk8_0 && "
    )
    assert 'pip install "zoho-tokens[sdk8]"' in (message.hint or "")


def test_bad_settings(settings):
    settings.ZOHO_TOKENS = {
        "DATA_CENTER": "mars",
        "ENVIRONMENT": "prod",
        "REFRESH_AHEAD_SECONDS": 3,
    }
    assert ids(checks.check_settings()) == {
        "zoho_tokens.E004",
        "zoho_tokens.E005",
        "zoho_tokens.E006",
    }
    settings.ZOHO_TOKENS = {"DATA_CENTER": "eu"}
    assert checks.check_settings() == []


def test_tenant_from_schema_without_django_tenants_is_an_error(settings):
    """Without django-tenants' database backend there is no schema to read the tenant from:
    every store call would fail at run time; the check says so at startup."""
    settings.ZOHO_TOKENS = {"TENANT_FROM_SCHEMA": True}
    messages = checks.check_token_database()
    assert ids(messages) == {"zoho_tokens.E013"}
    assert "django_tenants.postgresql_backend" in (messages[0].hint or "")
    settings.ZOHO_TOKENS = {}
    assert checks.check_token_database() == []
