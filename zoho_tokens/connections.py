"""Calls that survive a broken database connection (a restart, a killed backend, a failover).

Django replaces broken connections only at request boundaries (``close_old_connections``);
Celery workers, cron loops and threads that call the SDK outside a request keep a dead
connection forever, and every call fails until the process restarts. ``heal`` closes a
connection that a call found broken and runs the call once more on a new one.

It retries only outside a transaction of the caller's: every store operation is one
transaction of its own (or a read), so a retry re-runs it whole; it can never re-apply half of
one. Inside a caller's ``atomic`` block the caller's work is lost with the connection, so the
caller must decide: a clear ``TokenStoreError`` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, connections

from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import token_db

T = TypeVar("T")

# SQLite has no server to lose, but a connection object can be closed under Django.
_SQLITE_BROKEN = ("closed database", "cannot operate on a closed")


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


def is_broken(alias: str, exc: DatabaseError) -> bool:
    """Whether ``exc`` means the connection itself is gone (not a failed statement)."""
    connection = connections[alias]
    if connection.connection is None:
        return True
    if connection.vendor == "sqlite":
        return any(text in str(exc).lower() for text in _SQLITE_BROKEN)
    return not connection.is_usable()


def heal(call: Callable[[], T]) -> T:
    """Run ``call``; if it failed on a broken connection, reconnect and run it once more."""
    try:
        return call()
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
    return call()
