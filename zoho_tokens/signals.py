"""Signals sent after a token change commits (``transaction.on_commit``). Sender: ``ZohoToken``.

- ``token_saved(token, created, source)``: after every save by the store.
- ``token_refreshed(token, source)``: an access token was replaced by a refresh.
- ``grant_exchanged(token, actor, source)``: a grant token became a stored connection.
- ``token_revoked(token, actor, source, remote)``: a revocation (``remote``: Zoho confirmed).
- ``token_deleted(token, actor, source)``: every single deletion.
- ``tokens_purged(token_ids, count, actor, source)``: once per purge or ``delete_tokens``.

A connection's life (decided in ``zoho_tokens.lifecycle``; docs/reference/lifecycle.md):

- ``token_refresh_failed(token, reason, zoho_error, attempt, backoff_until, source)``: every
  failed refresh; ``attempt`` 1 is the moment the connection started failing.
- ``token_invalidated(token, reason, zoho_error, source)``: Zoho refused the refresh token;
  once per death, however many workers saw it.
- ``token_recovered(token, previous, failures, source)``: a failing or invalid connection
  works again (a successful refresh or a reconnect); once per recovery.

``source`` is ``sdk``, ``admin``, ``command`` or ``web``; ``actor`` is a Django user or None.
``token`` is the ``ZohoToken`` instance (its ``repr`` never shows a secret).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from zoho_tokens.models import ZohoToken, token_db

logger = logging.getLogger("zoho_tokens")

token_saved = Signal()
token_refreshed = Signal()
grant_exchanged = Signal()
token_revoked = Signal()
token_deleted = Signal()
tokens_purged = Signal()
token_refresh_failed = Signal()
token_invalidated = Signal()
token_recovered = Signal()
# Internal (not public API): refresh tokens a save replaced were recorded to be revoked
# (``replaced_ids``: ``ReplacedRefreshToken`` ids); ``services.revocations`` listens.
refresh_tokens_replaced = Signal()


@dataclass(frozen=True)
class Origin:
    """Who caused the current operation and through which path."""

    source: str = "sdk"
    actor: Any = None
    # What the operation is, where the store cannot tell by itself ("import": saved rows
    # that carry an old grant token are not grant exchanges).
    operation: str = ""


_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar(
    "zoho_tokens_origin",
    default=Origin(),  # noqa: B039 - frozen dataclass
)


def current_origin() -> Origin:
    return _origin.get()


@contextmanager
def origin(source: str, actor: Any = None, operation: str = "") -> Iterator[Origin]:
    """Tag every store operation in the block with ``source`` and ``actor``."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    value = Origin(source=source, actor=actor, operation=operation)
    token = _origin.set(value)
    try:
        yield value
    finally:
        _origin.reset(token)


def send_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` once the surrounding transaction commits (now, outside one).

    Receivers run robustly: the change is already committed, so a failing receiver is
    logged (without its arguments, which may be tokens) instead of failing the caller.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=ZohoToken, **kwargs):
            if isinstance(result, Exception):
                logger.error(
                    "zoho_tokens: signal receiver %s failed: %s",
                    getattr(receiver, "__qualname__", receiver),
                    type(result).__name__,
                )

    transaction.on_commit(send, using=token_db())
