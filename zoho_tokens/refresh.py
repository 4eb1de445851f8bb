"""Single-flight refresh ahead of expiry: one refresh per expiry, however many workers.

When the store is about to hand out a token whose access token expires within
``REFRESH_AHEAD_SECONDS``, it refreshes it here first, so the SDK never refreshes on its own
(the SDK refreshes below 5 s, in every process at once, and Zoho throttles after 10).

Exactly one worker wins a compare-and-set lease on the row
(``UPDATE ... SET refresh_lease_until = now + lease WHERE id = ? AND expiry_time = <seen>
AND lease is free``); the others poll the row until its expiry changes. We use this lease on
every backend rather than ``select_for_update`` held across the HTTP call: it works the same on
SQLite (which has no row locks), holds no database lock or connection-level transaction while
Zoho answers, and a crashed worker's lease simply runs out.

**One clock.** Leases, backoff deadlines and the expiries stored after a refresh are all
computed on the database's clock, not each process's ``time.time()``: every worker reads and
writes the same row, so the row's times must mean the same instant to all of them. A worker
whose clock is a minute fast (a container with a drifting clock) would otherwise take over
leases others hold, store expiries a minute late (so correct workers hand out a dead token)
and stretch everyone's backoff. ``shared_now_ms`` is this process's clock plus its offset
from the database server's, read with one query (``sync_clock``) when a refresh takes the
lease, at most a minute apart otherwise, and again whenever this process's wall clock jumps
against its monotonic clock; never for a token more than ``MAX_SKEW_SECONDS`` (15 min)
outside its window on the process's own clock (the store's hot path stays one query). On
PostgreSQL that is ``clock_timestamp()``, on MariaDB ``NOW(3)``. SQLite has no server: its
``'now'`` is the machine's clock read by the SQLite library, which every process on the host
shares (a SQLite file is never shared across hosts), and which is still right when one
process's ``time.time`` is not.

Faults cost little:

- **Backoff, shared through the row.** After a failed refresh (5xx, garbage, timeout,
  unreachable) nobody asks Zoho again for that token until ``refresh_backoff_until``: 5 s,
  doubling per consecutive failure up to 5 min, with ±20 % jitter so workers of many apps
  do not return in step; but no later than the moment the SDK would stop using the current
  access token (one more request then, in case Zoho is back). "Access Denied" (too many
  refreshes) holds back for ``THROTTLE_BACKOFF_SECONDS`` (each request would only prolong
  Zoho's block). Meanwhile callers get the current access token as long as the SDK would
  still use it (more than 5 s left), and otherwise a clear error. A successful refresh
  clears the backoff.
- **Zoho refuses the refresh token** (``invalid_code``, ``invalid_grant``): asked once more
  after a short pause within the same lease, and the row is marked invalid
  (``rows.mark_invalid``, the one place) only when the answer repeats: one transient answer
  never cuts a connection off. While the access token is still usable, calls keep getting it.
- **The database refuses a statement** (``statement_timeout``, lock timeouts, deadlocks):
  each statement here is retried a few times (``connections.retrying``) and the lease is
  released in a statement of its own, retried too, after whatever failed; a lease that still
  cannot be released runs out with its time.
- **A slow Zoho.** The refresh request runs in a thread of its own, reading Zoho's answer for
  up to ``LATE_ANSWER_SECONDS``; its caller waits ``HTTP_TIMEOUT`` as before and then backs
  off, but the answer is not thrown away: the lease stays held (renewed while the process
  lives) and the answer is stored when it comes (``_keep_late_answer``). Each request Zoho
  answers issues an access token, whether or not anyone reads it.
- **A crashed refresher.** The lease lasts ``HTTP_TIMEOUT + LEASE_MARGIN_SECONDS``, just over
  the longest refresh it guards (the Accounts call is bounded by ``HTTP_TIMEOUT`` for reading
  and a few seconds for connecting); waiters wait at least that long, and the first poll after
  it runs out takes the lease over. With the access token still valid nobody waits at all:
  they return the current token while the owner refreshes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import Q

from zoho_tokens import metrics, oauth_client, rows
from zoho_tokens.conf import zoho_settings
from zoho_tokens.connections import retrying
from zoho_tokens.datacenters import accounts_url_for
from zoho_tokens.exceptions import (
    RefreshFailed,
    TokenInvalidError,
    TokenStoreError,
    ZohoError,
    ZohoUnreachable,
    describe,
    detached,
)
from zoho_tokens.models import ZohoToken, now_ms, token_db

logger = logging.getLogger("zoho_tokens")

SDK_THRESHOLD_MS = 5000
POLL_SECONDS = 0.05
THROTTLE_BACKOFF_SECONDS = 60
BACKOFF_FIRST_SECONDS = 5
BACKOFF_MAX_SECONDS = 300
# With the access token already unusable every call fails anyway: a long backoff would only
# delay recovery after an outage (one request per token per half minute is no storm).
BACKOFF_MAX_EXPIRED_SECONDS = 30
BACKOFF_JITTER = 0.2
LEASE_MARGIN_SECONDS = 4
#: Pause before asking Zoho once more after it refused a refresh token (a transient
#: ``invalid_code`` is seen right after a token was issued or during Zoho incidents).
REFUSAL_RECHECK_SECONDS = 1.0
#: A lease owner holding Zoho's answer retries a refused save longer than other writers.
SAVE_ANSWER_ATTEMPTS = 15
#: How long a lease owner goes on reading Zoho's answer to a refresh after its caller stopped
#: waiting (``HTTP_TIMEOUT``): an access token Zoho issued that nobody stores is lost, and
#: counts against Zoho's 10 per refresh token in 10 minutes.
LATE_ANSWER_SECONDS = 30.0
#: Late answers awaited at once in one process (each holds a thread, then a connection).
MAX_LATE_ANSWERS = 4
CLOCK_RESYNC_SECONDS = 60
#: Clocks further off than this from the database's are out of bounds: a token this far
#: outside the refresh window on this process's clock is not due, without asking the database.
MAX_SKEW_SECONDS = 900

# -- one clock ---------------------------------------------------------------------------------

_DATABASE_NOW = {
    "postgresql": "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint",
    "mysql": "SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
    "sqlite": "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
}
_clock = {"offset": 0, "mono": float("-inf"), "wall": 0.0}


def database_now_ms() -> int | None:
    """The database server's clock in epoch milliseconds (None for an unknown backend)."""
    connection = connections[token_db()]
    sql = _DATABASE_NOW.get(connection.vendor)
    if sql is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def sync_clock() -> int:
    """Read the database's clock now; remember this process's offset from it (ms)."""
    before = time.time()
    try:
        server = retrying(database_now_ms)
    except DatabaseError:
        server = None  # keep the last offset: a clock is no reason to fail a call
    after = time.time()
    if server is not None:
        _clock["offset"] = server - int((before + after) * 500)
    _clock["mono"], _clock["wall"] = time.monotonic(), after
    return int(_clock["offset"])


def shared_now_ms() -> int:
    """Now on the database's clock (epoch ms): the one time leases, backoffs and stored
    expiries use. Costs a query only at most once a minute or after this process's wall
    clock jumped (NTP step, suspended VM)."""
    mono, wall = time.monotonic(), time.time()
    age = mono - _clock["mono"]
    jumped = abs((wall - _clock["wall"]) - age) > 1.0
    if age > CLOCK_RESYNC_SECONDS or jumped:
        sync_clock()
    return now_ms() + int(_clock["offset"])


def needs_refresh(row: Any, ahead_seconds: int | None = None) -> bool:
    """Whether ``row`` (a ``ZohoToken`` or the store's ``StoredRow``) is in the window.

    A row with a refresh token but no access token or no expiry (imported so, or a FileStore
    row without one) needs it too: handed over like that, the SDK would refresh on its own,
    without lease or timeout, and its failing frames hold the refresh token and the client
    secret (error reports show them).
    """
    if row.expiry_time is None or not row.access_token_checksum:
        return bool(row.refresh_token_checksum)
    ahead = zoho_settings.REFRESH_AHEAD_SECONDS if ahead_seconds is None else ahead_seconds
    if row.expiry_time is None:
        return False
    window = int(ahead) * 1000
    if row.expiry_time - now_ms() > window + MAX_SKEW_SECONDS * 1000:
        return False  # far outside the window on any clock within MAX_SKEW: no query
    return row.expiry_time - shared_now_ms() <= window


def ensure_fresh(row: ZohoToken) -> ZohoToken:
    """Return ``row``, refreshed first if it is inside the refresh window."""
    if not needs_refresh(row):
        return row
    if row.invalid_reason:
        if still_valid(row):
            return row  # Zoho refused its refresh token, but this access token still works
        raise TokenInvalidError(
            f"Zoho token {row.pk} ({row.user_name}) is invalid (Zoho: {row.invalid_reason}); "
            "connect this user again with 'manage.py zoho_login'"
        )
    if not row.has_refresh_token:
        return row  # nothing we can refresh with; let the SDK decide
    if not row.client_id:
        if still_valid(row):
            return row
        # The SDK would post the refresh token without a client id and fail, secrets in hand.
        raise TokenInvalidError(
            f"Zoho token {row.pk} ({row.user_name}) has a refresh token but no client id, so "
            "it cannot be refreshed; connect this user again with 'manage.py zoho_login'"
        )
    return refresh_token(row)


def still_valid(row: Any) -> bool:
    """The SDK would still use this access token (there is one, with more than 5 s left)."""
    if not getattr(row, "access_token_checksum", "x"):
        return False  # no access token: the SDK would refresh on its own
    return row.expiry_time is not None and row.expiry_time - shared_now_ms() > SDK_THRESHOLD_MS


def refresh_token(row: ZohoToken, *, force: bool = False, rejected: bool = False) -> ZohoToken:
    """Refresh ``row`` once across workers; return the row holding the new access token.
    (``refresh_once`` also says whether this call was the one that refreshed it.)

    ``force`` refreshes even outside the window (``zoho_tokens refresh``), still once, and
    also during a failure backoff (an operator asking once is no storm); it never asks Zoho
    during a throttle hold-back. ``rejected`` says Zoho refused the current access token
    (HTTP 401 ``INVALID_TOKEN``, ``zoho_tokens.http``): refresh outside the window too, and
    wait for the new token rather than hand back the dead one, but respect every backoff
    (a refused refresh raises ``RefreshFailed``).
    """
    return refresh_once(row, force=force, rejected=rejected)[0]


def refresh_once(
    row: ZohoToken, *, force: bool = False, rejected: bool = False
) -> tuple[ZohoToken, bool]:
    """``refresh_token``, and whether this call asked Zoho and stored its answer (False: the
    row is returned as it is, or as another worker refreshed it). ``row`` may be stale (a
    sweep loads its rows in chunks): the lease is taken only while its expiry is still the
    one seen, so a row refreshed meanwhile is never refreshed twice."""
    usable = not force and not rejected
    seen_expiry = row.expiry_time
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + max(zoho_settings.REFRESH_WAIT_SECONDS, lease_seconds() + 1)
    current = row
    waiting = time.monotonic()
    while True:
        held_back = _held_back(current, force=force)
        if held_back:
            if usable and still_valid(current):
                return current, False
            raise RefreshFailed(held_back, reason=current.refresh_error)
        if retrying(lambda: _acquire(row, seen_expiry, owner, force=force, rejected=rejected)):
            try:
                return _refresh_as_owner(row, owner, force=force or rejected)
            except BaseException:
                _release(row, owner)  # whatever failed: never leave the lease held
                raise
        current = _reload(row)
        if current.expiry_time != seen_expiry:
            metrics.lease_waited(time.monotonic() - waiting)
            return current, False  # another worker refreshed it
        if current.invalid_reason:
            if usable and still_valid(current):
                return current, False
            raise TokenInvalidError(
                f"Zoho token {row.pk} ({row.user_name}) is invalid "
                f"(Zoho: {current.invalid_reason}); connect this user again"
            )
        if _held_back(current, force=force):
            continue  # the owner failed meanwhile: say so above
        if usable and still_valid(current):
            return current, False  # another worker is refreshing; this token still works
        if time.monotonic() > deadline:
            raise TokenStoreError(
                f"timed out after {deadline_seconds():.0f} s waiting for another "
                f"worker to refresh Zoho token {row.pk}"
            )
        time.sleep(POLL_SECONDS)


def _reload(row: ZohoToken) -> ZohoToken:
    current = retrying(lambda: ZohoToken.objects.filter(pk=row.pk).first())
    if current is None:
        raise TokenStoreError(f"Zoho token {row.pk} was deleted while refreshing")
    return current


def lease_seconds() -> float:
    """How long a refresh may hold the lease: just over the longest refresh it guards."""
    return zoho_settings.HTTP_TIMEOUT + LEASE_MARGIN_SECONDS


def deadline_seconds() -> float:
    return max(zoho_settings.REFRESH_WAIT_SECONDS, lease_seconds() + 1)


def backing_off(row: Any, now: int | None = None) -> bool:
    """Whether nobody may ask Zoho for this token now (after a failure or throttling)."""
    until = getattr(row, "refresh_backoff_until", None)
    return until is not None and until > (shared_now_ms() if now is None else now)


def _held_back(row: ZohoToken, *, force: bool) -> str:
    """Why ``row`` may not be refreshed now ("" when it may)."""
    if not backing_off(row):
        return ""
    throttled = row.refresh_error == ZohoError.THROTTLED
    if force and not throttled:
        return ""
    wait = ((row.refresh_backoff_until or 0) - shared_now_ms()) // 1000 + 1
    if throttled:
        return (
            f"Zoho is throttling refreshes of token {row.pk} (Zoho: Access Denied); not "
            f"asking again for {wait} s. {ZohoError.HINTS[ZohoError.THROTTLED]}"
        )
    return (
        f"refresh of Zoho token {row.pk} failed {row.refresh_failures} time(s) in a row "
        f"(last: {row.refresh_error}); not asking Zoho again for {wait} s"
    )


def backoff_seconds(failures: int, *, cap: float = BACKOFF_MAX_SECONDS) -> float:
    """5 s, 10 s, 20 s ... up to ``cap`` (5 min), ±20 % so that many workers do not return in
    step."""
    base = min(BACKOFF_FIRST_SECONDS * 2 ** max(failures - 1, 0), cap)
    return base * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)  # noqa: S311


def _acquire(
    row: ZohoToken, seen_expiry: int | None, owner: str, *, force: bool, rejected: bool = False
) -> bool:
    """Take the lease (compare-and-set) unless someone holds it or the token is held back.

    Unless forced (or the access token was ``rejected`` by Zoho), only while the token is in
    the refresh window by the database's clock: a worker whose own clock runs fast sees every
    token in its window early. Never for a row
    marked invalid meanwhile (a waiter must not ask Zoho again right after the owner was
    refused twice).
    """
    now = shared_now_ms()
    free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now)
    may_ask = Q(refresh_backoff_until__isnull=True) | Q(refresh_backoff_until__lte=now)
    if force:
        may_ask |= ~Q(refresh_error=ZohoError.THROTTLED)
    due = Q()
    if not force and not rejected and seen_expiry is not None:
        # ... or no access token at all (the SDK would refresh such a row on its own).
        due = Q(expiry_time__lte=now + int(zoho_settings.REFRESH_AHEAD_SECONDS) * 1000) | Q(
            access_token_checksum=""
        )
    return bool(
        ZohoToken.objects.filter(pk=row.pk, expiry_time=seen_expiry, invalid_reason="")
        .filter(free, may_ask, due)
        .update(
            refresh_lease_until=now + int(lease_seconds() * 1000),
            refresh_lease_owner=owner,
        )
    )


def _back_off(row: ZohoToken, owner: str, exc: ZohoError, *, keep_lease: bool = False) -> None:
    """Record a failed refresh and release the lease: nobody asks again for a while.

    A failure backoff ends at the latest when the current access token stops being usable
    (5 s before it expires): Zoho may be back by then, and one more request at that moment
    spares every call made until the backoff would have ended. Past that moment the backoff
    grows as usual but to at most 30 s. A throttle hold-back is never shortened.
    """
    now = shared_now_ms()
    if exc.throttled:
        failures, seconds = row.refresh_failures, float(THROTTLE_BACKOFF_SECONDS)
        until = now + int(seconds * 1000)
    else:
        failures = _reload(row).refresh_failures + 1
        last_usable = (row.expiry_time or 0) - SDK_THRESHOLD_MS
        cap = BACKOFF_MAX_SECONDS if now < last_usable else BACKOFF_MAX_EXPIRED_SECONDS
        until = now + int(backoff_seconds(failures, cap=cap) * 1000)
        if now < last_usable < until:
            until = last_usable
    # With Zoho's answer still awaited (``keep_lease``) the lease stays ours: nobody asks
    # Zoho again (and costs another access token) before it comes.
    lease: dict[str, Any] = (
        {"refresh_lease_until": now + int(lease_seconds() * 1000)}
        if keep_lease
        else {"refresh_lease_until": None, "refresh_lease_owner": ""}
    )
    retrying(
        lambda: ZohoToken.objects.filter(pk=row.pk, refresh_lease_owner=owner).update(
            **lease,
            refresh_failures=failures,
            refresh_backoff_until=until,
            refresh_error=str(exc.code)[:200],
        )
    )
    retrying(lambda: rows.record_refresh_failure(row, exc, attempt=failures, backoff_until=until))


def _release(row: ZohoToken, owner: str, *, succeeded: bool = False, keeper: bool = False) -> None:
    """Give the lease back, in a statement of its own retried while the database refuses
    it (a failed release would leave the lease held, with nobody refreshing, for its whole
    time). A no-op when ``owner`` no longer holds it, and for the caller of a request whose
    late answer is awaited (``_keep_late_answer`` gives the lease back: ``keeper``)."""
    if owner in _late_owners and not keeper:
        return
    fields: dict[str, Any] = {"refresh_lease_until": None, "refresh_lease_owner": ""}
    if succeeded:
        fields.update(refresh_failures=0, refresh_backoff_until=None, refresh_error="")
    retrying(
        lambda: ZohoToken.objects.filter(pk=row.pk, refresh_lease_owner=owner).update(**fields)
    )


def _extend(row: ZohoToken, owner: str) -> bool:
    """Renew our lease for one more request (False when it is no longer ours)."""
    until = shared_now_ms() + int(lease_seconds() * 1000)
    return bool(
        retrying(
            lambda: ZohoToken.objects.filter(pk=row.pk, refresh_lease_owner=owner).update(
                refresh_lease_until=until
            )
        )
    )


class _Request:
    """One refresh request to Zoho, in a thread of its own, reading for up to
    ``LATE_ANSWER_SECONDS``: its caller waits ``HTTP_TIMEOUT``; a later answer is still
    there for ``_keep_late_answer`` to store."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: Any = None

    def run(self, url: str, client_id: str, refresh_secret: str, client_secret: str) -> None:
        try:
            self.answer = oauth_client.refresh(
                url,
                refresh_token=refresh_secret,
                client_id=client_id,
                client_secret=client_secret,
                read_timeout=max(LATE_ANSWER_SECONDS, zoho_settings.HTTP_TIMEOUT),
            )
        except ZohoError as exc:
            self.answer = exc
        except Exception as exc:  # never lost in a thread: the caller reports it
            self.answer = ZohoError(f"the refresh request failed: {type(exc).__name__}")
        finally:
            self.done.set()


def _request(row: ZohoToken, owner: str, refresh_secret: str, client_secret: str) -> Any:
    """Zoho's answer (``TokenResponse``) or its ``ZohoError``, within ``HTTP_TIMEOUT``; when
    Zoho is slower, a ``ZohoUnreachable`` (timeout) while the request goes on and its answer will be
    stored by ``_keep_late_answer`` (``owner`` is then in ``_late_owners``)."""
    request = _Request()
    url = accounts_url_for(row.api_domain, row.accounts_server)
    thread = threading.Thread(
        target=request.run,
        args=(url, row.client_id, refresh_secret, client_secret),
        name="zoho-tokens-refresh",
        daemon=True,
    )
    thread.start()
    read = oauth_client.timeouts()[1]
    if request.done.wait(read):  # connecting included: the caller waits HTTP_TIMEOUT at most
        return request.answer
    with _late_lock:
        adopted = len(_late_owners) < MAX_LATE_ANSWERS and not request.done.is_set()
        if adopted:
            _late_owners[owner] = request
    if not adopted:
        request.done.wait(1.0)  # it has just come, or too many late answers are awaited
        if request.done.is_set():
            return request.answer
    return ZohoUnreachable(
        f"Zoho Accounts at {url.split('://', 1)[-1].split('/', 1)[0]} did not answer within "
        f"{read} s" + ("; its answer will be stored when it comes" if adopted else ""),
        ZohoUnreachable.TIMEOUT,
    )


def _keep_late_answer(row: ZohoToken, owner: str, request: _Request) -> None:
    """Wait (in a thread) for the answer its caller stopped waiting for, renewing the lease
    meanwhile, and store it: Zoho issued that token. Gives up after ``LATE_ANSWER_SECONDS``
    or as soon as the lease is no longer ours. Uses (and closes) its own connection."""
    try:
        give_up = time.monotonic() + LATE_ANSWER_SECONDS + oauth_client.CONNECT_TIMEOUT
        while not request.done.wait(lease_seconds() / 2):
            if time.monotonic() > give_up or not _extend(row, owner):
                return
        answer = request.answer
        if isinstance(answer, oauth_client.TokenResponse) and _extend(row, owner):
            _store_answer(row, owner, answer, keeper=True)
            logger.warning(
                "zoho_tokens: Zoho answered the refresh of token %s late; its access token "
                "is stored",
                row.pk,
            )
    except Exception as exc:  # by type only: its arguments may hold a token
        logger.warning(
            "zoho_tokens: storing Zoho's late answer for token %s failed: %s",
            row.pk,
            type(exc).__name__,
        )
    finally:
        with contextlib.suppress(Exception):  # the lease then runs out with its time
            _release(row, owner, keeper=True)
        with _late_lock:
            _late_owners.pop(owner, None)
        connections.close_all()  # this thread's own


_late_lock = threading.Lock()
#: Lease owners (in this process) whose request's answer is still awaited, and the request.
_late_owners: dict[str, _Request] = {}


def _ask_zoho(row: ZohoToken, owner: str, refresh_secret: str, client_secret: str) -> Any:
    """Zoho's answer to a refresh of ``row``: a ``TokenResponse``, or the ``ZohoError`` it
    raised, returned. A refusal of the refresh token (``ZohoError.refused``:
    ``invalid_code`` or ``invalid_grant``) is asked once more after a short pause, within the
    same (renewed) lease: only a repeated refusal comes back as one."""
    for attempt in (1, 2):
        asked = time.perf_counter()
        answer = _request(row, owner, refresh_secret, client_secret)
        if not isinstance(answer, ZohoError):
            metrics.refresh_answered(time.perf_counter() - asked)
            return answer
        if attempt == 2 or not answer.refused:
            return answer
        logger.warning(
            "zoho_tokens: Zoho refused the refresh token of token %s (%s); asking once "
            "more in %.1f s before marking it invalid",
            row.pk,
            answer.code,
            REFUSAL_RECHECK_SECONDS,
        )
        time.sleep(REFUSAL_RECHECK_SECONDS)
        if not _extend(row, owner):
            return ZohoError(
                "the refresh lease ran out while asking Zoho again", ZohoError.LEASE_LOST
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _refresh_as_owner(row: ZohoToken, owner: str, *, force: bool = False) -> tuple[ZohoToken, bool]:
    """Ask Zoho and store its answer, as the lease owner; every way out gives the lease back
    (a stored answer gives it back in the same ``UPDATE``: 4 queries a refresh, with the
    lease and the audit row). Returns the row and whether it holds Zoho's new token."""
    # Every error leaves from outside its ``except`` block, so nothing is chained to it: the
    # chained errors' frames hold the refresh token and the client secret.
    failure: TokenStoreError | None = None
    try:
        refresh_secret, client_secret = row.refresh_token, row.client_secret
    except TokenStoreError as exc:  # no configured key decrypts them: give the lease back
        _release(row, owner)
        failure = detached(exc)
    if failure is not None:
        raise failure
    answer = _ask_zoho(row, owner, refresh_secret, client_secret)
    del refresh_secret, client_secret
    if isinstance(answer, ZohoError) and answer.refused:
        retrying(lambda: rows.mark_invalid(row, answer.code))
        _release(row, owner)
        if still_valid(row) and not force:
            return row, False  # refused twice, but the current access token still works
        raise TokenInvalidError(
            f"Zoho rejected the refresh token of token {row.pk} ({row.user_name}) twice "
            f"(Zoho: {answer.code}); the token is marked invalid: connect this user again"
        )
    if isinstance(answer, ZohoError):
        pending = _late_owners.get(owner)
        _back_off(row, owner, answer, keep_lease=pending is not None)
        if pending is not None:
            # Not a daemon: a command that ends meanwhile (a sweep) waits for the answer
            # (at most LATE_ANSWER_SECONDS) rather than lose the token Zoho issued.
            threading.Thread(
                target=_keep_late_answer,
                args=(row, owner, pending),
                name="zoho-tokens-late-answer",
            ).start()
        logger.warning("zoho_tokens: refresh of token %s failed: %s", row.pk, answer)
        if still_valid(row) and not force:
            return row, False  # the current access token still works; forced must say so
        raise RefreshFailed(
            f"refresh of Zoho token {row.pk} failed: {describe(answer)}", reason=str(answer.code)
        )

    return _store_answer(row, owner, answer)


def _store_answer(
    row: ZohoToken, owner: str, answer: Any, *, keeper: bool = False
) -> tuple[ZohoToken, bool]:
    """Store Zoho's answer (a ``TokenResponse``) for ``row`` and give the lease back (in the
    save's own ``UPDATE``: 4 queries a refresh, with the lease and the audit row).

    Zoho's answer first, before anything else can fail: an issued token that is not stored
    is lost (and counts against Zoho's 10 per refresh token in 10 minutes). Its expiry on
    the shared clock, from the lifetime Zoho gave, as of now (the answer's time).
    """
    token = rows.new_token()
    token.set_access_token(answer.access_token)
    token.set_expires_in(str(shared_now_ms() + answer.lifetime_seconds * 1000))
    if answer.refresh_token:
        token.set_refresh_token(answer.refresh_token)
    token.set_id(row.pk)
    released: list[bool] = []

    def give_back(locked: ZohoToken) -> None:
        """Release the lease in the save's own ``UPDATE`` (as ``_release(succeeded=True)``,
        and only while it is still ours)."""
        released.clear()
        if locked.refresh_lease_owner == owner:
            locked.refresh_lease_until, locked.refresh_lease_owner = None, ""
            locked.refresh_failures, locked.refresh_backoff_until = 0, None
            locked.refresh_error = ""
            released.append(True)

    saved: ZohoToken | None = None
    failure: TokenStoreError | None = None
    try:
        saved = rows.save(
            token,
            row.tenant,
            attempts=SAVE_ANSWER_ATTEMPTS,
            scope=answer.scope or None,
            before_write=give_back,
        )
    except TokenStoreError as exc:
        failure = detached(exc)
    except Exception as exc:
        failure = TokenStoreError(
            f"could not save the refreshed Zoho token {row.pk}: {type(exc).__name__}", cause=exc
        )
    finally:
        if saved is None or not released:
            _release(row, owner, succeeded=saved is not None, keeper=keeper)
    if failure is not None or saved is None:
        raise failure or TokenStoreError(f"could not save the refreshed Zoho token {row.pk}")
    return saved, True
