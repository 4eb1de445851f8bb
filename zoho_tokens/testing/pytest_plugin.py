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

    def test_leads(fake_zoho, fake_zoho_settings):
        fake_zoho.add_record("Leads", Last_Name="Ng")  # RecordOperations("Leads") sees it
        ...
        assert fake_zoho.records("Leads")[0]["Last_Name"] == "Ng"

    def test_expiry(fake_zoho, fake_zoho_settings, expire_access_tokens):
        ...
        expire_access_tokens()  # in the fake and in the store: the next call refreshes

Function-scoped so every test starts with fresh users, tokens, records, counters and port.

The plugin also makes the SDK's log lines safe to format: the SDK logs errors as
``logger.error("Exception in saving tokens", ex)`` (an argument without a ``%s``), which
pytest's log capture turns into ``TypeError: not all arguments converted during string
formatting``, and that error would stand in pytest's summary instead of the real cause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from zoho_tokens.testing.fake_zoho import FakeZoho

__all__ = ["expire_access_tokens", "fake_zoho", "fake_zoho_settings"]

SDK_LOGGER = "SDKLogger"


class SDKLogArguments(logging.Filter):
    """Fold the arguments of an SDK log call whose message has no ``%`` placeholder into
    the message, so formatting the record cannot fail (the SDK writes
    ``logger.error(Constants.SAVE_TOKEN_ERROR, ex)``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.msg, str) and "%" not in record.msg:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.msg = ": ".join([record.msg, *(_describe(a) for a in args)])
            record.args = ()
        return True


def _describe(value: object) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return str(value)


def pytest_configure(config: pytest.Config) -> None:
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, SDKLogArguments) for f in logger.filters):
        logger.addFilter(SDKLogArguments())


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


@pytest.fixture
def expire_access_tokens(fake_zoho: FakeZoho) -> Callable[[], int]:
    """``expire_access_tokens()``: every access token expires now, in the fake (API calls
    get 401 ``INVALID_TOKEN``) and in the store (the stored expiry is in the past, so the
    next SDK call refreshes, once, through ``DjangoTokenStore``). Returns the number of
    stored tokens it expired. Needs the database (``@pytest.mark.django_db``)."""

    def expire() -> int:
        from zoho_tokens.models import ZohoToken

        fake_zoho.expire_access_tokens()
        past = int(time.time() * 1000) - 1000  # epoch ms, the unit of expiry_time
        return ZohoToken.objects.update(expiry_time=past)

    return expire
