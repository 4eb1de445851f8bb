"""Calls that survive a broken database connection and a database's transient refusals.

Django replaces broken connections only at request boundaries (``close_old_connections``);
Celery workers, cron loops and threads that call the SDK outside a request keep a dead
connection forever, and every call fails until the process restarts. ``heal`` closes a
connection that a call found broken and runs the call once more on a new one.

It retries only outside a transaction of the caller's: every store operation is one
transaction of its own (or a read), so a retry re-runs it whole; it can never re-apply half of
one. Inside a caller's ``atomic`` block the caller's work is lost with the connection, so the
caller must decide: a clear ``TokenStoreError`` says so.

Transient refusals are retried too, a few times with a short random pause: a cancelled
statement (PostgreSQL 57014, e.g. ``statement_timeout`` on managed databases and PgBouncer
setups), a lock timeout (55P03), a serialization failure or deadlock (40001, 40P01),
MariaDB's lock wait timeout and deadlock (1205, 1213), SQLite's "database is locked" (busy).
Each says "this statement lost a race or ran out of time", never "this data is wrong", and
each rolled the statement back whole, so running the call again is safe (``is_transient``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connections

from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import token_db

T = TypeVar("T")

# SQLite has no server to lose, but a connection object can be closed under Django.
_SQLITE_BROKEN = ("closed database", "cannot operate on a closed")
#: PostgreSQL SQLSTATEs: query cancelled (statement_timeout), lock not available,
#: serialization failure, deadlock.
TRANSIENT_SQLSTATES = frozenset({"57014", "55P03", "40001", "40P01"})
#: MariaDB/MySQL error numbers: lock wait timeout, deadlock.
TRANSIENT_MYSQL_ERRORS = frozenset({1205, 1213})
_SQLITE_BUSY = ("database is locked", "database table is locked", "sqlite_busy", "sqlite_locked")
#: How many times a call that met a transient refusal is run in all (bounded: a database
#: that keeps refusing is an outage the caller must hear about).
TRANSIENT_ATTEMPTS = 6


def database_error_in(exc: BaseException) -> DatabaseError | None:
    """The database error behind ``exc`` (itself, or the cause a store error carries)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, DatabaseError):
            return current
        current = getattr(current, "cause", None) or current.__cause__
        seen += 1
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or the database error behind it) is a transient refusal worth
    running the call again for: see the module's docstring for the list."""
    error = database_error_in(exc)
    if error is None:
        return False
    driver = error.__cause__ or error
    code = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
    if code in TRANSIENT_SQLSTATES:
        return True
    args = getattr(driver, "args", ())
    if args and isinstance(args[0], int) and args[0] in TRANSIENT_MYSQL_ERRORS:
        return True
    name = str(getattr(driver, "sqlite_errorname", "") or "").lower()
    return any(text in str(driver).lower() or text == name for text in _SQLITE_BUSY)


def pause(attempt: int) -> None:
    """A short random pause before running a refused call again (losers of one race must not
    meet again in step)."""
    time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311


def retrying(call: Callable[[], T], attempts: int = TRANSIENT_ATTEMPTS) -> T:
    """Run ``call``; run it again (up to ``attempts`` in all) while it fails transiently.

    Outside a transaction of the caller's only: inside one, the failed statement may have
    aborted the caller's whole transaction (PostgreSQL, InnoDB deadlocks), which only the
    caller can roll back. An error that gave up is marked, so that an outer ``heal`` does not
    run the whole operation another ``attempts`` times.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            last = attempt == attempts - 1
            if (
                getattr(exc, "_zoho_tokens_retried", False)
                or not is_transient(exc)
                or last
                or connections[token_db()].in_atomic_block
            ):
                if is_transient(exc):
                    exc._zoho_tokens_retried = True  # type: ignore[attr-defined]
                raise
        pause(attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def is_broken(alias: str, exc: DatabaseError) -> bool:
    """Whether ``exc`` means the connection itself is gone (not a failed statement)."""
    connection = connections[alias]
    if connection.connection is None:
        return True
    if connection.vendor == "sqlite":
        return any(text in str(exc).lower() for text in _SQLITE_BROKEN)
    return not connection.is_usable()


def heal(call: Callable[[], T]) -> T:
    """Run ``call``; if it failed on a broken connection, reconnect and run it once more;
    while it fails transiently, run it again a few times (``retrying``)."""
    try:
        return retrying(call)
    except Exception as exc:
        error = database_error_in(exc)
        alias = token_db()
        if error is None or not is_broken(alias, error):
            raise
        connection = connections[alias]
        if connection.in_atomic_block:
            raise TokenStoreError(
                "the database connection was lost inside your transaction: roll it back and "
                "try again (zoho_tokens retries only outside a transaction of yours)",
                cause=error,
            ) from exc
        try:
            connection.close()
        except DatabaseError:
            connection.connection = None  # already gone; Django opens a new one on use
    return retrying(call)
