"""pytest plugin providing a ``fake_zoho`` fixture (a running FakeZoho per test).

Enable it in your ``conftest.py``::

    pytest_plugins = ["zoho_tokens.testing.pytest_plugin"]

then::

    def test_exchange(fake_zoho):
        code = fake_zoho.add_grant(email="ann@example.com")
        ...  # point the SDK / zoho_tokens settings at fake_zoho.url / fake_zoho.token_url
        assert fake_zoho.counters["grant"] == 1

    def test_leads(fake_zoho):
        fake_zoho.add_record("Leads", Last_Name="Ng")  # RecordOperations("Leads") sees it
        ...
        assert fake_zoho.records("Leads")[0]["Last_Name"] == "Ng"

Function-scoped so every test starts with fresh users, tokens, records, counters and port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zoho_tokens.testing.fake_zoho import FakeZoho

__all__ = ["fake_zoho"]


@pytest.fixture
def fake_zoho() -> Iterator[FakeZoho]:
    """A started FakeZoho, stopped (port freed, slow requests woken) after the test."""
    fake = FakeZoho().start()
    try:
        yield fake
    finally:
        fake.stop()
