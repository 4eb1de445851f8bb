"""Refresh ahead of expiry in ``DjangoTokenStore.find_token``/``find_token_by_id``.

Against the fake Zoho over real HTTP: the happy path, throttling, a revoked refresh token and
outages, and which accounts server is asked.
"""

from __future__ import annotations

import time

import pytest
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

from tests.helpers import by_name, now_ms
from zoho_tokens import refresh, signals
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db

DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port here


@pytest.fixture
def make_row(live_token):
    """A live token inside the refresh window (30 s left) unless told otherwise."""

    def make(expires_in_ms: int = 30_000, **kwargs) -> ZohoToken:
        return live_token(expires_in_ms=expires_in_ms, **kwargs)

    return make


@pytest.fixture
def refreshed_signals():
    received = []

    def receiver(sender, token, source, **kwargs):
        received.append((token.pk, source))

    signals.token_refreshed.connect(receiver, dispatch_uid="test_refresh_ahead")
    yield received
    signals.token_refreshed.disconnect(dispatch_uid="test_refresh_ahead")


def snapshot(row: ZohoToken, lease: bool = True) -> tuple:
    fresh = ZohoToken.objects.get(pk=row.pk)
    values: tuple = (
        fresh.access_token,
        fresh.refresh_token,
        fresh.expiry_time,
        fresh.invalid_reason,
    )
    if lease:
        values += (fresh.refresh_lease_owner, fresh.refresh_lease_until)
    return values


def test_find_token_inside_window_refreshes_once(
    fake_zoho, make_row, refreshed_signals, django_capture_on_commit_callbacks
):
    row = make_row()
    with django_capture_on_commit_callbacks(execute=True):
        found = DjangoTokenStore().find_token(by_name(row))
    assert fake_zoho.counters["refresh"] == 1
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert fresh.access_token != row.access_token
    assert found.get_access_token() == fresh.access_token
    assert fake_zoho.is_access_token_valid(fresh.access_token)
    assert int(found.get_expires_in()) == fresh.expiry_time > now_ms() + 3000_000
    assert fresh.refresh_token == row.refresh_token
    assert fresh.refresh_lease_owner == "" and fresh.refresh_lease_until is None
    assert refreshed_signals == [(row.pk, "sdk")]
    assert TokenAuditEvent.objects.filter(action="refreshed", token_id=row.pk).count() == 1

    # Now fresh: the next find does not refresh again.
    DjangoTokenStore().find_token(by_name(row))
    assert fake_zoho.counters["refresh"] == 1


def test_find_token_by_id_inside_window_refreshes(fake_zoho, make_row):
    row = make_row(expires_in_ms=-1000)  # already expired
    found = DjangoTokenStore().find_token_by_id(row.pk)
    assert fake_zoho.counters["refresh"] == 1
    assert found.get_access_token() == ZohoToken.objects.get(pk=row.pk).access_token
    assert found.get_access_token() != row.access_token


def test_outside_window_nothing_happens(fake_zoho, make_row):
    row = make_row(expires_in_ms=600_000)
    before = snapshot(row)
    found = DjangoTokenStore().find_token(by_name(row))
    assert found.get_access_token() == row.access_token
    DjangoTokenStore().find_token_by_id(row.pk)
    assert fake_zoho.counters["requests"] == 0
    assert snapshot(row) == before


def test_find_token_of_fresh_token_is_one_query(make_row, django_assert_num_queries):
    row = make_row(expires_in_ms=3600_000)
    store = DjangoTokenStore()
    with django_assert_num_queries(1):
        found = store.find_token(by_name(row))
    assert found.get_access_token() == row.access_token


def test_throttled_with_valid_token_returns_current_token(fake_zoho, make_row):
    row = make_row(expires_in_ms=30_000)
    before = snapshot(row, lease=False)
    fake_zoho.set_refresh_limit(0)
    found = DjangoTokenStore().find_token(by_name(row))
    assert found.get_access_token() == row.access_token
    assert fake_zoho.counters["refresh"] == 1
    assert fake_zoho.counters["throttled"] == 1
    assert snapshot(row, lease=False) == before


def test_throttled_is_not_asked_again_at_every_call(fake_zoho, make_row):
    row = make_row(expires_in_ms=30_000)
    fake_zoho.set_refresh_limit(0)
    store = DjangoTokenStore()
    for _ in range(5):
        assert store.find_token(by_name(row)).get_access_token() == row.access_token
        assert store.find_token_by_id(row.pk).get_access_token() == row.access_token
    # One answer of "Access Denied" holds further refreshes back for a while: a refresh storm
    # against a throttled client only extends Zoho's block.
    assert fake_zoho.counters["refresh"] == 1

    # Once the hold-back runs out, one worker asks again (and gets the new token).
    fake_zoho.set_refresh_limit(10)
    # Well past: the refresher reads the database's clock, which may lag this one.
    ZohoToken.objects.filter(pk=row.pk).update(refresh_backoff_until=now_ms() - 5_000)
    found = store.find_token_by_id(row.pk)
    assert fake_zoho.counters["refresh"] == 2
    assert found.get_access_token() == ZohoToken.objects.get(pk=row.pk).access_token
    assert found.get_access_token() != row.access_token


def test_forced_refresh_when_throttled_raises(fake_zoho, make_row):
    from zoho_tokens import refresh

    row = make_row(expires_in_ms=3600_000)
    fake_zoho.set_refresh_limit(0)
    with pytest.raises(SDKException, match="Access Denied"):
        refresh.refresh_token(row, force=True)
    with pytest.raises(SDKException, match="not asking again"):
        refresh.refresh_token(ZohoToken.objects.get(pk=row.pk), force=True)
    assert fake_zoho.counters["refresh"] == 1


def test_throttled_with_expired_token_raises_clearly(fake_zoho, make_row):
    row = make_row(expires_in_ms=-1000)
    before = snapshot(row, lease=False)
    fake_zoho.set_refresh_limit(0)
    with pytest.raises(SDKException) as info:
        DjangoTokenStore().find_token(by_name(row))
    message = str(info.value)
    assert "Access Denied" in message and "10 access tokens" in message
    assert row.access_token not in message and row.refresh_token not in message
    assert fake_zoho.counters["refresh"] == 1
    assert snapshot(row, lease=False) == before
    with pytest.raises(SDKException, match="not asking again"):
        DjangoTokenStore().find_token_by_id(row.pk)
    assert fake_zoho.counters["refresh"] == 1


def test_invalid_refresh_token_marks_token_invalid(fake_zoho, make_row, monkeypatch):
    """Refused twice (a second request after a short pause): marked invalid. While the access
    token is still usable the caller keeps getting it; once it is not, a clear error."""
    monkeypatch.setattr(refresh, "REFUSAL_RECHECK_SECONDS", 0.05)
    row = make_row(expires_in_ms=30_000, registered=False)
    found = DjangoTokenStore().find_token(by_name(row))
    assert found.get_access_token() == row.access_token  # still usable: no failed call
    assert fake_zoho.counters["refresh"] == 2
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert fresh.invalid_reason == "invalid_code"
    assert fresh.invalidated_at is not None
    assert fresh.refresh_lease_owner == ""
    event = TokenAuditEvent.objects.get(action="refresh_failed", token_id=row.pk)
    assert event.detail["zoho_error"] == "invalid_code" and event.detail["reason"] == "refused"

    # Known invalid: while usable it is handed out, never sent to Zoho again.
    assert DjangoTokenStore().find_token(by_name(row)).get_access_token() == row.access_token
    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2_000)
    with pytest.raises(SDKException, match="invalid") as info:
        DjangoTokenStore().find_token(by_name(row))
    message = str(info.value)
    assert "invalid_code" in message and "connect this user again" in message
    assert row.refresh_token not in message
    with pytest.raises(SDKException, match="invalid"):
        DjangoTokenStore().find_token_by_id(row.pk)
    assert fake_zoho.counters["refresh"] == 2


def _outage(fake_zoho, settings, zoho_settings_for, mode: str) -> None:
    if mode == "stopped":
        fake_zoho.stop()
    elif mode == "500":
        fake_zoho.fail_mode = "500"
    else:
        settings.ZOHO_TOKENS = {**zoho_settings_for, "HTTP_TIMEOUT": 1}
        fake_zoho.fail_mode, fake_zoho.slow_seconds = "slow", 3


def _late_answer_stored(row: ZohoToken, before: tuple) -> None:
    """A slow Zoho's answer came after the caller's HTTP_TIMEOUT: meanwhile the lease stayed
    held (nobody asks again), then the token Zoho issued was stored and the lease released."""
    assert ZohoToken.objects.get(pk=row.pk).refresh_lease_owner != ""
    deadline = time.monotonic() + 15
    while (stored := snapshot(row))[0] == before[0] or stored[4]:  # stored, then released
        assert time.monotonic() < deadline, ("the late answer was not stored", stored[2:])
        time.sleep(0.05)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.expiry_time > now_ms() + 3_000_000
    assert (stored.refresh_failures, stored.refresh_backoff_until) == (0, None)


# A slow Zoho's late answer is stored from a thread with its own connection: the row must be
# committed (transaction=True) for it to see it.
OUTAGES = ["stopped", "500", pytest.param("slow", marks=pytest.mark.django_db(transaction=True))]


@pytest.mark.parametrize("mode", OUTAGES)
def test_outage_with_expired_token_raises_and_leaves_row(
    fake_zoho, make_row, settings, zoho_settings_for, mode
):
    row = make_row(expires_in_ms=-1000)
    before = snapshot(row)
    _outage(fake_zoho, settings, zoho_settings_for, mode)
    with pytest.raises(SDKException) as info:
        DjangoTokenStore().find_token(by_name(row))
    message = str(info.value)
    assert f"refresh of Zoho token {row.pk} failed" in message
    assert {"stopped": "cannot reach", "500": "HTTP 500", "slow": "did not answer"}[mode] in message
    if mode == "slow":
        _late_answer_stored(row, before)
    else:
        assert snapshot(row) == before


@pytest.mark.parametrize("mode", OUTAGES)
def test_outage_with_valid_token_returns_current_token(
    fake_zoho, make_row, settings, zoho_settings_for, mode
):
    row = make_row(expires_in_ms=30_000)
    before = snapshot(row)
    _outage(fake_zoho, settings, zoho_settings_for, mode)
    found = DjangoTokenStore().find_token(by_name(row))
    assert found.get_access_token() == row.access_token
    if mode == "slow":
        _late_answer_stored(row, before)
    else:
        assert snapshot(row) == before


@pytest.mark.django_db(transaction=True)
def test_refresh_uses_the_sdk_environment_when_initialised(
    fake_zoho, make_row, settings, zoho_settings_for, init_sdk
):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ACCOUNTS_URL": DEAD_URL}
    row = make_row(expires_in_ms=30_000, api_domain=fake_zoho.url)
    # Initialising runs the SDK's get_token, i.e. find_token: the refresh happens here.
    init_sdk(by_name(row))
    assert fake_zoho.counters["refresh"] == 1
    assert ZohoToken.objects.get(pk=row.pk).access_token != row.access_token


@pytest.mark.django_db(transaction=True)
def test_sdk_environment_wins_over_accounts_url(fake_zoho, make_row, zoho_settings_for, init_sdk):
    row = make_row(expires_in_ms=-1000, api_domain=fake_zoho.url)
    dead = DataCenter.Environment(fake_zoho.url, DEAD_URL + "/oauth/v2/token", fake_zoho.url)
    with pytest.raises(SDKException, match=r"cannot reach Zoho Accounts at 127\.0\.0\.1:9"):
        init_sdk(by_name(row), environment=dead)
    assert fake_zoho.counters["refresh"] == 0


def test_refresh_uses_accounts_url_when_sdk_not_initialised(fake_zoho, make_row):
    assert Initializer.get_initializer() is None
    row = make_row(expires_in_ms=30_000)
    DjangoTokenStore().find_token_by_id(row.pk)
    assert fake_zoho.counters["refresh"] == 1
