"""The audit trail: a ``TokenAuditEvent`` row per change and a structured log line.

Rows are written by ``record()`` inside the transaction of the change they describe, so a
committed change always has its audit row and a rolled-back one has none. The log line is
written by the default signal receivers (connected in ``AppConfig.ready()``), after commit.
``ZOHO_TOKENS["AUDIT_LOG"] = False`` turns both off; signals are still sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import Signal, receiver

from zoho_tokens import context, signals
from zoho_tokens.conf import zoho_settings
from zoho_tokens.models import TokenAuditEvent

logger = logging.getLogger("zoho_tokens.audit")

# Keys a detail dict may carry; anything else is dropped so a secret can never slip in.
SAFE_DETAIL_KEYS = {
    "created",
    "count",
    "token_ids",
    "remote",
    "error",
    "zoho_error",
    "api_domain",
    "expiry_time",
    "replaced_ids",
    "reason",
    "dry_run",
    "attempt",
    "backoff_until",
    "previous",
    "failures",
}


def record(
    action: str,
    *,
    token: Any = None,
    token_id: str = "",
    user_name: str | None = "",
    tenant: str = "",
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row (in the caller's transaction) unless ``AUDIT_LOG`` is off."""
    if token is not None:
        token_id, user_name, tenant = token.pk, token.user_name, token.tenant
    record_many(action, [(token_id, user_name, tenant)], outcome=outcome, detail=detail)


def actor_name(actor: Any) -> str:
    """The user's name as it is now, kept in the audit row after the user is deleted."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    return str(actor.get_username())[:150]


def record_many(
    action: str,
    tokens: list[tuple[str, str | None, str]],
    *,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    batch_size: int = 500,
) -> None:
    """One audit row per ``(token_id, user_name, tenant)``, in bulk (the caller's transaction)."""
    if not zoho_settings.AUDIT_LOG or not tokens:
        return
    origin = context.current_origin()
    safe = {k: v for k, v in (detail or {}).items() if k in SAFE_DETAIL_KEYS}
    TokenAuditEvent.objects.bulk_create(
        [
            TokenAuditEvent(
                action=str(action),
                token_id=token_id or "",
                user_name=user_name or "",
                tenant=tenant or "",
                actor=origin.actor,
                actor_name=actor_name(origin.actor),
                source=origin.source,
                outcome=outcome,
                detail=safe,
            )
            for token_id, user_name, tenant in tokens
        ],
        batch_size=batch_size,
    )


def record_each(events: list[tuple[str, dict[str, Any], Any]], batch_size: int = 500) -> None:
    """One audit row per ``(action, detail, token)``, in bulk (the caller's transaction)."""
    if not zoho_settings.AUDIT_LOG or not events:
        return
    origin = context.current_origin()
    name = actor_name(origin.actor)
    TokenAuditEvent.objects.bulk_create(
        [
            TokenAuditEvent(
                action=str(action),
                token_id=token.pk or "",
                user_name=token.user_name or "",
                tenant=token.tenant or "",
                actor=origin.actor,
                actor_name=name,
                source=origin.source,
                outcome="ok",
                detail={k: v for k, v in detail.items() if k in SAFE_DETAIL_KEYS},
            )
            for action, detail, token in events
        ],
        batch_size=batch_size,
    )


def _log(action: str, token: Any = None, **fields: Any) -> None:
    actor = fields.pop("actor", None)
    data = {
        "action": action,
        "token_id": getattr(token, "pk", None),
        "user_name": getattr(token, "user_name", None),
        "tenant": getattr(token, "tenant", None),
        "actor": getattr(actor, "get_username", lambda: None)() if actor else None,
        **{k: v for k, v in fields.items() if k in SAFE_DETAIL_KEYS | {"source"}},
    }
    logger.info(
        "zoho_tokens %s token_id=%s user_name=%s tenant=%s actor=%s source=%s",
        action,
        data["token_id"],
        data["user_name"],
        data["tenant"],
        data["actor"],
        data.get("source"),
        extra={"zoho_tokens": data},
    )


def on_token_saved(sender: Any, token: Any, created: bool, source: str, **kw: Any) -> None:
    _log("created" if created else "saved", token, source=source)


def on_token_refreshed(sender: Any, token: Any, source: str, **kw: Any) -> None:
    _log("refreshed", token, source=source)


def on_grant_exchanged(sender: Any, token: Any, actor: Any, source: str, **kw: Any) -> None:
    _log("grant_exchanged", token, actor=actor, source=source)


def on_token_revoked(
    sender: Any, token: Any, actor: Any, source: str, remote: bool, **kw: Any
) -> None:
    _log("revoked", token, actor=actor, source=source, remote=remote)


def on_token_deleted(sender: Any, token: Any, actor: Any, source: str, **kw: Any) -> None:
    _log("deleted", token, actor=actor, source=source)


def on_tokens_purged(
    sender: Any, token_ids: list[str], count: int, actor: Any, source: str, **kw: Any
) -> None:
    _log("purged", None, actor=actor, source=source, count=count, token_ids=token_ids)


RECEIVERS: list[tuple[Signal, Callable[..., None]]] = [
    (signals.token_saved, on_token_saved),
    (signals.token_refreshed, on_token_refreshed),
    (signals.grant_exchanged, on_grant_exchanged),
    (signals.token_revoked, on_token_revoked),
    (signals.token_deleted, on_token_deleted),
    (signals.tokens_purged, on_tokens_purged),
]


def connect() -> None:
    """Connect or disconnect the default receivers according to ``AUDIT_LOG``."""
    for signal, handler in RECEIVERS:
        uid = f"zoho_tokens.audit.{handler.__name__}"
        if zoho_settings.AUDIT_LOG:
            signal.connect(handler, dispatch_uid=uid)
        else:
            signal.disconnect(dispatch_uid=uid)


@receiver(setting_changed)
def _audit_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # conf's receiver (connected first: this module imports conf) has dropped its cache.
    if setting == "ZOHO_TOKENS":
        connect()
