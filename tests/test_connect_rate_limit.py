"""Finding 7 of issue 21: connect is bounded per user and per session.

200 rounds of connect + callback used to post the client secret to Zoho 200 times and write
200 audit rows in seconds. Now at most ``CONNECT_RATE_LIMIT`` connects (default 5) per user
and per session in any minute; the next is answered 429 with a clear message and
``Retry-After``, and sends nobody to Zoho.
"""

from __future__ import annotations

import time

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import may_connect
from zoho_tokens import access
from zoho_tokens.checks import CheckId
from zoho_tokens.conf import DEFAULTS

pytestmark = pytest.mark.django_db

CONNECT = "zoho_tokens:connect"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_default_bound_is_small():
    assert 1 <= DEFAULTS["CONNECT_RATE_LIMIT"] <= 10


def test_a_user_over_the_bound_gets_429_in_every_session(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_RATE_LIMIT": 3}
    user = may_connect(UserFactory(username="busy"))
    first = browser(user)
    assert [first.get(reverse(CONNECT)).status_code for _ in range(3)] == [302, 302, 302]

    refused = first.get(reverse(CONNECT))
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert "at most 3 per minute" in refused.content.decode()
    # A new session of the same user is bounded too (per user), another user is not.
    assert browser(user).get(reverse(CONNECT)).status_code == 429
    other = may_connect(UserFactory(username="calm"))
    assert browser(other).get(reverse(CONNECT)).status_code == 302


def test_a_session_over_the_bound_gets_429_even_as_another_user(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_RATE_LIMIT": 2}
    client = browser(may_connect(UserFactory(username="first")))
    assert [client.get(reverse(CONNECT)).status_code for _ in range(2)] == [302, 302]
    session = client.session
    stamps = session[access.RATE_SESSION_KEY]
    client.force_login(may_connect(UserFactory(username="second")))  # same browser
    session = client.session
    session[access.RATE_SESSION_KEY] = stamps  # login rotates the session key, not this
    session.save()
    assert client.get(reverse(CONNECT)).status_code == 429


def test_the_bound_is_a_sliding_minute(settings, zoho_settings_for, monkeypatch):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_RATE_LIMIT": 1}
    client = browser(may_connect(UserFactory(username="patient")))
    now = time.time()
    monkeypatch.setattr(access.time, "time", lambda: now)
    assert client.get(reverse(CONNECT)).status_code == 302
    monkeypatch.setattr(access.time, "time", lambda: now + 59)
    assert client.get(reverse(CONNECT)).status_code == 429
    monkeypatch.setattr(access.time, "time", lambda: now + 61)
    assert client.get(reverse(CONNECT)).status_code == 302


def test_zero_turns_the_bound_off_and_a_wrong_value_is_a_check_error(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_RATE_LIMIT": 0}
    client = browser(may_connect(UserFactory(username="unbounded")))
    assert {client.get(reverse(CONNECT)).status_code for _ in range(8)} == {302}
    for wrong in (-1, "5", 2.5, True):
        settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_RATE_LIMIT": wrong}
        found = [m for m in run_checks() if m.id == CheckId.INVALID_CONNECT_RATE_LIMIT]
        assert len(found) == 1, wrong
