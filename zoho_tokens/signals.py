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

``source`` is an ``AuditSource`` (``sdk``, ``admin``, ``command``, ``web``, ``task``) and
``actor`` a Django user or None, from ``zoho_tokens.context.origin``.
``token`` is the ``ZohoToken`` instance (its ``repr`` never shows a secret).
"""

from __future__ import annotations

import logging
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
