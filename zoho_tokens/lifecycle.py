"""A connection's life: the one place where its state changes are decided and announced.

A connection is *healthy*, *failing* (refreshes fail: Zoho down, throttling, garbage) or
*dead* (Zoho refused its refresh token: revoked, password changed, user removed, or Zoho's
20-token cap deleted it). Every failed refresh is audited and sent as
``token_refresh_failed`` (with its attempt count); the moments the state *changes* are decided
here, each by one guarded write on the row, so that however many workers see the same failure,
each change is announced once:

- healthy -> failing: the failed refresh whose ``attempt`` is 1 (the lease lets one worker at
  a time record a failure, and each recording counts up ``refresh_failures``);
- -> dead: ``UPDATE ... WHERE invalid_reason = ''`` (only the writer that flips it announces
  ``token_invalidated``);
- failing/dead -> healthy: a save that brings a new access or refresh token to such a row
  (locked by the save) announces ``token_recovered`` and clears the failure columns.

Notifications (``zoho_tokens.notify``) listen to these signals and pass on changes only.
Nothing here holds or sends a secret: the signals carry the ``ZohoToken`` and codes.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zoho_tokens import audit, context, signals
from zoho_tokens.exceptions import ZohoError, ZohoUnreachable
from zoho_tokens.models import AuditAction, ZohoToken, token_db


class FailureReason(models.TextChoices):
    """Why a refresh failed, as ``token_refresh_failed``'s ``reason`` names it."""

    REFUSED = "refused", _("Zoho refused the refresh token")
    THROTTLED = "throttled", _("Zoho is throttling refreshes (too many requests)")
    UNREACHABLE = "unreachable", _("Zoho did not answer (network error or timeout)")
    UNEXPECTED = "unexpected", _("Zoho answered something unexpected")
    ZOHO_ERROR = "zoho_error", _("Zoho answered with an error")


class PreviousState(models.TextChoices):
    """What ``token_recovered`` recovered from."""

    FAILING = "failing", _("refreshes were failing")
    INVALID = "invalid", _("Zoho had refused the refresh token")


def reason_for(exc: ZohoError) -> FailureReason:
    """The ``FailureReason`` of a ``ZohoError`` raised by a refresh."""
    if isinstance(exc, ZohoUnreachable):
        return FailureReason.UNREACHABLE
    if exc.refused:
        return FailureReason.REFUSED
    if exc.throttled:
        return FailureReason.THROTTLED
    if exc.code in ZohoError.HINTS and exc.code != ZohoError.UNEXPECTED:
        return FailureReason.ZOHO_ERROR  # an error Zoho documents (client, redirect URL)
    return FailureReason.UNEXPECTED


def refresh_failed(
    row: ZohoToken,
    *,
    reason: str,
    zoho_error: str,
    attempt: int,
    backoff_until: int | None,
    outcome: str = "error",
) -> None:
    """Audit one failed refresh and send ``token_refresh_failed`` (caller's transaction).

    ``attempt``: consecutive failures of this connection including this one (1: the
    connection just started failing; 0: a throttle hold-back, which is not counted).
    """
    audit.record(
        AuditAction.REFRESH_FAILED,
        token=row,
        outcome=outcome,
        detail={
            "zoho_error": zoho_error,
            "reason": str(reason),
            "attempt": attempt,
            "backoff_until": backoff_until,
        },
    )
    signals.send_on_commit(
        signals.token_refresh_failed,
        token=row,
        reason=str(reason),
        zoho_error=zoho_error,
        attempt=attempt,
        backoff_until=backoff_until,
        source=context.current_origin().source,
    )


def record_failure(
    row: ZohoToken, exc: ZohoError, *, attempt: int, backoff_until: int | None
) -> None:
    """A refresh failed and the connection backs off (its columns are already written)."""
    with transaction.atomic(using=token_db()):
        refresh_failed(
            row,
            reason=reason_for(exc),
            zoho_error=str(exc.code),
            attempt=attempt,
            backoff_until=backoff_until,
        )


def invalidate(row: ZohoToken, zoho_error: str) -> bool:
    """Zoho refused ``row``'s refresh token: the connection is dead until reconnected.

    Marks the row invalid (the one guarded write that decides it), counts the failed attempt,
    audits ``refresh_failed`` and ``invalidated``, and sends ``token_refresh_failed`` then
    ``token_invalidated`` after commit. Returns False (and announces nothing) when the row was
    already invalid or is gone: another worker announced it.
    """
    with transaction.atomic(using=token_db()):
        current = ZohoToken.objects.select_for_update().filter(pk=row.pk).first()
        changed = current is not None and bool(
            ZohoToken.objects.filter(pk=row.pk, invalid_reason="").update(
                invalid_reason=zoho_error[:200],
                invalidated_at=timezone.now(),
                refresh_failures=F("refresh_failures") + 1,
            )
        )
        if changed and current is not None:
            attempt = current.refresh_failures + 1
            refresh_failed(
                row,
                reason=FailureReason.REFUSED,
                zoho_error=zoho_error,
                attempt=attempt,
                backoff_until=None,
                outcome="invalid",
            )
            audit.record(
                AuditAction.INVALIDATED,
                token=row,
                outcome="invalid",
                detail={"zoho_error": zoho_error, "reason": str(FailureReason.REFUSED)},
            )
            signals.send_on_commit(
                signals.token_invalidated,
                token=row,
                reason=str(FailureReason.REFUSED),
                zoho_error=zoho_error,
                source=context.current_origin().source,
            )
    row.invalid_reason = zoho_error[:200]
    return changed


def unhealthy(row: Any) -> PreviousState | None:
    """The state a saved row is in, when it is not healthy (read from its columns)."""
    if row.invalid_reason:
        return PreviousState.INVALID
    if row.refresh_failures:
        return PreviousState.FAILING
    return None


def recover(row: ZohoToken, previous: PreviousState, failures: int) -> None:
    """A failing or dead connection got a working token again (in the saving transaction).

    Clears the row's failure columns (set on ``row``: the caller saves it) and announces
    ``token_recovered`` once: the save holds the row's lock, so one saver sees it unhealthy.
    """
    row.invalid_reason, row.invalidated_at = "", None
    row.refresh_failures, row.refresh_backoff_until, row.refresh_error = 0, None, ""
    audit.record(
        AuditAction.RECOVERED,
        token=row,
        detail={"previous": str(previous), "failures": failures},
    )
    signals.send_on_commit(
        signals.token_recovered,
        token=row,
        previous=str(previous),
        failures=failures,
        source=context.current_origin().source,
    )
