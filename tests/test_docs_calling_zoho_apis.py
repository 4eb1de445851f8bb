"""The examples of docs/how-to/calling-zoho-apis.md run against the fake Zoho, and the page
includes each of them (so the page cannot drift from code that works)."""

from __future__ import annotations

import asyncio
import runpy

import pytest

from tests.helpers import ROOT
from zoho_tokens.models import ZohoToken
from zoho_tokens.testing.tokens import SCOPE

PAGE = ROOT / "docs" / "how-to" / "calling-zoho-apis.md"
EXAMPLES = ROOT / "docs" / "examples"
SCOPES = SCOPE + ",ZohoBooks.fullaccess.all,Desk.tickets.READ"
USER = "ann@example.com:700000001"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("async_db_threads")]


def example(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name))


@pytest.fixture
def connected(fake_zoho, live_token, zoho_settings_for):
    """One connection whose grant carried CRM, Books and Desk scopes."""
    return live_token(USER, scope=SCOPES)


#: The page's examples; each is run below.
PAGE_EXAMPLES = (
    "requests_books.py",
    "httpx_desk.py",
    "httpx_async.py",
    "coql.py",
    "own_headers.py",
)


def test_the_page_includes_every_example():
    text = PAGE.read_text()
    for name in PAGE_EXAMPLES:
        assert (EXAMPLES / name).is_file()
        assert f'--8<-- "docs/examples/{name}"' in text


def test_requests_books(fake_zoho, connected):
    organizations = example("requests_books.py")["books_organizations"]()
    assert organizations[0]["organization_id"] == "800000001"


def test_httpx_desk(fake_zoho, connected):
    tickets = example("httpx_desk.py")["desk_tickets"](desk=fake_zoho.url)
    assert tickets[0]["subject"] == "Help ann@example.com"


def test_httpx_async(fake_zoho, connected):
    books_and_desk = example("httpx_async.py")["books_and_desk"]
    organizations, tickets = asyncio.run(books_and_desk(desk=fake_zoho.url))
    assert organizations and tickets


def test_coql_after_zoho_dropped_the_token(fake_zoho, connected):
    fake_zoho.add_record("Leads", Last_Name="Ng", Email="ng@example.com")
    fake_zoho.drop_access_token(connected.access_token)
    assert example("coql.py")["lead_names"]() == ["Ng"]
    assert fake_zoho.counters["refresh"] == 1


def test_own_headers(connected):
    module = example("own_headers.py")
    expected = {"Authorization": f"Zoho-oauthtoken {ZohoToken.objects.get().access_token}"}
    assert module["zoho_headers"]() == expected
    assert asyncio.run(module["azoho_headers"]()) == expected
