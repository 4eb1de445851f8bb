"""System checks for keys, settings and the SDK."""

from __future__ import annotations

from unittest import mock

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


def test_sdk_missing_is_an_error():
    with mock.patch("importlib.util.find_spec", return_value=None):
        assert ids(checks.check_sdk_importable()) == {"zoho_tokens.E003"}
    assert checks.check_sdk_importable() == []


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
