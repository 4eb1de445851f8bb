"""Faults in one process: backoff after failed refreshes, lease bounds, healed connections.

The multi-process versions (8 workers, real kills) are in test_faults.py and bench/.
"""

from __future__ import annotations

import time

import pytest
from django.core.checks import Warning as CheckWarning
from django.db import connection, transaction

from tests.helpers import kill_own_connection
from zoho_tokens import checks, connections, refresh
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import TokenStatus, ZohoToken, now_ms
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_window(live_token, zoho_settings_for):
    """A token inside the refresh window but still usable (30 s left), known to the fake."""

    def make(expires_in_ms: int = 30_000) -> ZohoToken:
        return live_token(
            client_id=zoho_settings_for["CLIENT_ID"],
            client_secret=zoho_settings_for["CLIENT_SECRET"],
            expires_in_ms=expires_in_ms,
        )

    return make


def find(row: ZohoToken):
    return DjangoTokenStore().find_token_by_id(row.pk)


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_a_failed_refresh_backs_off_for_everyone(fake_zoho, in_window, mode):
    row = in_window()
    fake_zoho.fail_mode = mode
    for _ in range(20):
        assert find(row).get_access_token() == row.access_token  # still usable: no failure
    assert fake_zoho.counters["requests"] == 1
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.refresh_failures == 1 and stored.refresh_error == "unexpected"
    assert 4_000 <= stored.refresh_backoff_until - now_ms() <= 6_100  # 5 s ± 20 %
    assert stored.status() == TokenStatus.BACKING_OFF
    assert stored.refresh_lease_owner == ""


def test_backoff_grows_and_a_success_clears_it(fake_zoho, in_window):
    row = in_window()
    fake_zoho.fail_mode = "500"
    for expected in (1, 2, 3):
        find(row)
        stored = ZohoToken.objects.get(pk=row.pk)
        assert stored.refresh_failures == expected
        assert stored.refresh_backoff_until - now_ms() >= 0.8 * 5_000 * 2 ** (expected - 1) - 200
        # Ended well in the past: the refresher reads the database's clock, which may lag
        # this process's by a few milliseconds (1 ms ago was not always over; seen on MariaDB).
        ZohoToken.objects.filter(pk=row.pk).update(refresh_backoff_until=now_ms() - 5_000)
    assert fake_zoho.counters["requests"] == 3
    fake_zoho.fail_mode = None
    fresh = find(row)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert fresh.get_access_token() == stored.access_token != row.access_token
    assert (stored.refresh_failures, stored.refresh_backoff_until, stored.refresh_error) == (
        0,
        None,
        "",
    )


def test_backoff_caps_at_five_minutes():
    assert all(refresh.backoff_seconds(n) <= 300 * 1.2 for n in range(1, 40))
    assert refresh.backoff_seconds(30) >= 300 * 0.8


def test_expired_token_during_backoff_fails_clearly_without_asking_zoho(fake_zoho, in_window):
    row = in_window(expires_in_ms=-1000)
    fake_zoho.fail_mode = "500"
    with pytest.raises(TokenStoreError, match="HTTP 500"):
        find(row)
    with pytest.raises(TokenStoreError, match=r"failed 1 time\(s\).*not asking Zoho again"):
        find(row)
    assert fake_zoho.counters["requests"] == 1


def test_forced_refresh_may_ask_during_a_failure_backoff_but_not_a_throttle(fake_zoho, in_window):
    row = in_window()
    fake_zoho.fail_mode = "500"
    find(row)
    fake_zoho.fail_mode = None
    refreshed = refresh.refresh_token(ZohoToken.objects.get(pk=row.pk), force=True)
    assert refreshed.access_token != row.access_token
    fake_zoho.set_refresh_limit(0)
    with pytest.raises(TokenStoreError, match="Access Denied"):
        refresh.refresh_token(refreshed, force=True)
    with pytest.raises(TokenStoreError, match="not asking again"):
        refresh.refresh_token(ZohoToken.objects.get(pk=row.pk), force=True)
    assert fake_zoho.counters["throttled"] == 1


def test_the_lease_is_just_over_the_longest_refresh(settings, zoho_settings_for, in_window):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "HTTP_TIMEOUT": 7}
    assert refresh.lease_seconds() == 7 + refresh.LEASE_MARGIN_SECONDS
    # Waiters wait at least as long as a lease lasts, so a crashed owner is taken over.
    settings.ZOHO_TOKENS = {**zoho_settings_for, "HTTP_TIMEOUT": 30, "REFRESH_WAIT_SECONDS": 5}
    assert refresh.deadline_seconds() > refresh.lease_seconds()


def test_an_expired_lease_of_a_dead_owner_is_taken_over(fake_zoho, in_window):
    row = in_window(expires_in_ms=-1000)
    ZohoToken.objects.filter(pk=row.pk).update(
        refresh_lease_until=now_ms() - 1, refresh_lease_owner="dead-worker"
    )
    assert find(row).get_access_token() != row.access_token
    assert fake_zoho.counters["refresh"] == 1


def test_a_live_lease_on_a_valid_token_makes_nobody_wait(fake_zoho, in_window):
    row = in_window()
    ZohoToken.objects.filter(pk=row.pk).update(
        refresh_lease_until=now_ms() + 60_000, refresh_lease_owner="busy-worker"
    )
    assert find(row).get_access_token() == row.access_token
    assert fake_zoho.counters["requests"] == 0


@pytest.mark.django_db(transaction=True)
def test_store_calls_heal_a_broken_connection(in_window):
    row = in_window(expires_in_ms=3_600_000)
    store = DjangoTokenStore()
    kill_own_connection()
    assert store.find_token_by_id(row.pk).get_access_token() == row.access_token
    kill_own_connection()
    token = store.find_token_by_id(row.pk)
    token.set_access_token("1000.healed")
    store.save_token(token)  # a write heals too
    assert ZohoToken.objects.get(pk=row.pk).access_token == "1000.healed"


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_a_broken_connection_is_a_clear_error(in_window):
    row = in_window(expires_in_ms=3_600_000)
    with pytest.raises(TokenStoreError, match="lost inside your transaction"):
        with transaction.atomic():
            kill_own_connection()
            DjangoTokenStore().find_token_by_id(row.pk)
    connection.close()
    assert DjangoTokenStore().find_token_by_id(row.pk).get_access_token() == row.access_token


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"


def test_check_warns_when_a_router_reads_tokens_elsewhere(settings):
    assert checks.check_token_database() == []
    settings.DATABASE_ROUTERS = [f"{__name__}.ReplicaRouter"]
    messages = checks.check_token_database()
    assert [m.id for m in messages] == [checks.CheckId.READS_ROUTED_ELSEWHERE]
    assert isinstance(messages[0], CheckWarning) and "'replica'" in messages[0].msg
    settings.ZOHO_TOKENS = {"DATABASE": "nope"}
    assert [m.id for m in checks.check_token_database()] == [checks.CheckId.UNKNOWN_DATABASE]


def test_a_failure_backoff_ends_when_the_token_stops_being_usable(fake_zoho, in_window):
    """Zoho may be back before the backoff ends: one worker asks again at the last moment
    the SDK would still use the token, instead of every call failing until the backoff ends."""
    row = in_window(expires_in_ms=8_000)  # usable by the SDK for 3 s more
    fake_zoho.fail_mode = "500"
    find(row)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.refresh_backoff_until == row.expiry_time - 5_000  # not 5 s (± 20 %) from now
    fake_zoho.fail_mode = None
    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 4_000)
    # Well past: the refresher reads the database's clock, which may lag this one.
    ZohoToken.objects.filter(pk=row.pk).update(refresh_backoff_until=now_ms() - 5_000)
    assert find(row).get_access_token() != row.access_token  # asked again, and got one
    # Past that moment the backoff grows as before (the token is no longer usable anyway).
    row = in_window(expires_in_ms=2_000)
    fake_zoho.fail_mode = "500"
    with pytest.raises(TokenStoreError):
        find(row)
    assert ZohoToken.objects.get(pk=row.pk).refresh_backoff_until - now_ms() >= 3_800


def test_with_the_token_expired_the_backoff_stays_short(fake_zoho, in_window):
    """Once the access token is unusable every call fails until a refresh succeeds, so a long
    backoff only delays recovery after an outage: it is capped at 30 s (± 20 %) then, one
    request per token per half minute, while a usable token backs off up to 5 min."""
    row = in_window(expires_in_ms=-1_000)
    ZohoToken.objects.filter(pk=row.pk).update(refresh_failures=6)  # 5 s * 2**6 = 320 s
    fake_zoho.fail_mode = "500"
    with pytest.raises(TokenStoreError):
        find(row)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.refresh_failures == 7
    assert 0.8 * 30_000 - 200 <= stored.refresh_backoff_until - now_ms() <= 1.2 * 30_000
    assert fake_zoho.counters["requests"] == 1


# -- issue 22: one clock, Zoho's refusals, transient database errors -------------------------


@pytest.fixture
def skewed(monkeypatch):
    """``skewed(seconds)``: this process's ``time.time`` runs ``seconds`` off (a container
    with a drifting clock); returns the real clock. The database's clock is not affected."""
    real = time.time

    def skew(seconds: float):
        monkeypatch.setattr(time, "time", lambda: real() + seconds)
        return real

    return skew


@pytest.mark.parametrize("seconds", [60, -60, 600])
def test_a_skewed_clock_neither_steals_a_lease_nor_refreshes_early(
    fake_zoho, in_window, skewed, seconds
):
    row = in_window(expires_in_ms=30_000)
    early = in_window(expires_in_ms=100_000)  # outside the 60 s window on the real clock
    real = skewed(seconds)
    ZohoToken.objects.filter(pk=row.pk).update(
        refresh_lease_until=int(real() * 1000) + 6_000, refresh_lease_owner="busy-worker"
    )
    assert find(row).get_access_token() == row.access_token
    assert find(early).get_access_token() == early.access_token
    assert fake_zoho.counters["requests"] == 0
    assert ZohoToken.objects.get(pk=row.pk).refresh_lease_owner == "busy-worker"


@pytest.mark.parametrize("seconds", [60, -60])
def test_a_skewed_clock_stores_zohos_expiry_and_a_true_backoff(
    fake_zoho, in_window, skewed, seconds
):
    row = in_window(expires_in_ms=-1_000)
    usable = in_window(expires_in_ms=30_000)
    real = skewed(seconds)
    find(row)
    stored = ZohoToken.objects.get(pk=row.pk)
    assert abs(stored.expiry_time - (int(real() * 1000) + 3_600_000)) < 2_000
    row = usable
    fake_zoho.fail_mode = "500"
    find(row)
    backoff = ZohoToken.objects.get(pk=row.pk).refresh_backoff_until - int(real() * 1000)
    assert 4_000 - 300 <= backoff <= 6_000 + 300  # 5 s ± 20 % on the shared clock


def test_the_shared_clock_is_the_databases(skewed):
    real = skewed(120)
    refresh._clock["mono"] = float("-inf")
    assert abs(refresh.shared_now_ms() - real() * 1000) < 1_000
    assert abs(refresh.database_now_ms() - real() * 1000) < 1_000


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_code"])
def test_a_refused_refresh_token_is_marked_invalid_only_when_the_refusal_repeats(
    fake_zoho, in_window, error
):
    row = in_window(expires_in_ms=30_000)
    fake_zoho.script_refresh(row.refresh_token, error)  # once, then Zoho answers
    assert find(row).get_access_token() != row.access_token
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.invalid_reason == "" and fake_zoho.refreshes_of[row.refresh_token] == 2

    other = in_window(expires_in_ms=30_000)
    fake_zoho.fail_refresh(other.refresh_token, error)
    for _ in range(5):  # still usable: every call gets it, Zoho is asked twice in all
        assert find(other).get_access_token() == other.access_token
    stored = ZohoToken.objects.get(pk=other.pk)
    assert stored.invalid_reason == error and stored.refresh_lease_owner == ""
    assert fake_zoho.refreshes_of[other.refresh_token] == 2
    ZohoToken.objects.filter(pk=other.pk).update(expiry_time=now_ms() + 1_000)
    with pytest.raises(TokenStoreError, match=f"invalid .*{error}.*connect this user again"):
        find(other)


def test_database_refusals_are_transient_and_data_errors_are_not():
    import sqlite3

    import psycopg.errors
    from django.db import IntegrityError, OperationalError

    def wrapped(cls, driver):
        exc = cls(str(driver))
        exc.__cause__ = driver
        return exc

    driver: Exception
    for driver in (
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable(),
        psycopg.errors.SerializationFailure(),
        psycopg.errors.DeadlockDetected(),
        sqlite3.OperationalError("database is locked"),
        OperationalError(1205, "Lock wait timeout exceeded"),
        OperationalError(1213, "Deadlock found"),
    ):
        assert connections.is_transient(wrapped(OperationalError, driver)), driver
    for driver in (
        psycopg.errors.UniqueViolation(),
        sqlite3.OperationalError("no such table: x"),
        OperationalError(1146, "Table doesn't exist"),
    ):
        assert not connections.is_transient(wrapped(IntegrityError, driver)), driver


@pytest.mark.django_db(transaction=True)
def test_a_refused_release_is_retried_and_no_lease_is_left_held(fake_zoho, in_window, monkeypatch):
    """The write that stores Zoho's answer also gives the lease back (one UPDATE); when it
    meets a transient refusal (as a 50 ms statement_timeout does) it is run again, and the
    lease is free when the call returns."""
    import sqlite3

    from django.db import OperationalError

    row = in_window(expires_in_ms=-1_000)
    real_save = ZohoToken.save
    refused = {"n": 0}

    def save(self, *args, **kwargs):
        if self.refresh_lease_owner == "" and refused["n"] < 2:
            refused["n"] += 1
            exc = OperationalError("database is locked")
            exc.__cause__ = sqlite3.OperationalError("database is locked")
            raise exc
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(ZohoToken, "save", save)
    assert find(row).get_access_token() != row.access_token
    assert refused["n"] == 2
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.refresh_lease_owner == "" and stored.refresh_lease_until is None
    assert fake_zoho.counters["refresh"] == 1
