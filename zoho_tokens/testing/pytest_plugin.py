"""pytest plugin providing a ``fake_zoho`` fixture (a running FakeZoho per test).

Enable it in your ``conftest.py``::

    pytest_plugins = ["zoho_tokens.testing.pytest_plugin"]

then::

    def test_exchange(fake_zoho):
        code = fake_zoho.add_grant(email="ann@example.com")
        ...  # point the SDK / zoho_tokens settings at fake_zoho.url / fake_zoho.token_url
        assert fake_zoho.counters["grant"] == 1

    def test_store(fake_zoho, fake_zoho_settings):  # ZOHO_TOKENS at the fake, a test key
        ...

    def test_leads(fake_zoho):
        fake_zoho.add_record("Leads", Last_Name="Ng")  # RecordOperations("Leads") sees it
        ...
        assert fake_zoho.records("Leads")[0]["Last_Name"] == "Ng"

Function-scoped so every test starts with fresh users, tokens, records, counters and port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from zoho_tokens.testing.fake_zoho import FakeZoho

__all__ = ["fake_zoho", "fake_zoho_settings"]


@pytest.fixture
def fake_zoho() -> Iterator[FakeZoho]:
    """A started FakeZoho, stopped (port freed, slow requests woken) after the test."""
    fake = FakeZoho().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_zoho_settings(settings: Any, fake_zoho: FakeZoho) -> dict[str, Any]:
    """``ZOHO_TOKENS`` pointed at ``fake_zoho``, for the test's duration (pytest-django).

    Keeps the project's other ZOHO_TOKENS values, sets a test client id and secret, and a
    throwaway encryption key: tests run with ``DEBUG`` off, where a key derived from a
    ``django-insecure-`` SECRET_KEY is refused, and they never need the real key.
    """
    settings.ZOHO_TOKENS = {
        **(getattr(settings, "ZOHO_TOKENS", None) or {}),
        "CLIENT_ID": "1000.TEST",
        "CLIENT_SECRET": "test-secret",
        "ACCOUNTS_URL": fake_zoho.url,
        "API_DOMAIN": fake_zoho.url,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    return settings.ZOHO_TOKENS
