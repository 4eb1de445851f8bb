"""Revoke at Zoho, where the token was issued, then delete locally: one ``outcomes.Outcome``
per token (``zoho_tokens revoke``, the admin's revoke action)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet

from zoho_tokens import audit, background, context, oauth_client, rows, signals
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import accounts_url_for, host_of, issuer
from zoho_tokens.exceptions import TokenStoreError, ZohoError, describe
from zoho_tokens.models import AuditAction, ReplacedRefreshToken, ZohoToken, token_db
from zoho_tokens.outcomes import Outcome, Report, Status, missing, of


def revoke(
    row: ZohoToken, *, source: AuditSource = AuditSource.COMMAND, actor: Any = None
) -> Outcome:
    """Revoke the refresh token where it was issued, then delete the row: ``revoked`` (Zoho
    confirmed), ``deleted`` (Zoho no longer knew it, at the server that issued it) or
    ``kept``.

    Keeps the row when Zoho fails, and when Zoho says it does not know the token but is not
    known to be the server that issued it: that answer proves nothing, and the token may
    still work at its own data center.
    """
    with context.origin(source, actor):
        remote = False
        url = ""
        try:
            if row.has_refresh_token:
                url = accounts_url_for(row.api_domain, row.accounts_server)
                remote = oauth_client.revoke(url, refresh_token=row.refresh_token)
        except ZohoError as exc:
            _revoke_failed(row, exc.code)
            return of(row, Status.KEPT, describe(exc), server=url)
        except TokenStoreError as exc:
            # e.g. the refresh token cannot be decrypted: keep the row, say why.
            return of(row, Status.KEPT, describe(exc), server=url)
        if url and not remote and not issuer(row.api_domain, row.accounts_server):
            _revoke_failed(row, "issuer_unknown")
            return of(
                row,
                Status.KEPT,
                f"Zoho at {host_of(url)} does not know this token, and it is not known "
                "which accounts server issued it, so it may still be valid there: revoke it "
                "at its data center (or the user removes the app under Zoho's Connected Apps), "
                "then purge it",
                server=url,
            )
        with transaction.atomic(using=token_db()):
            rows.delete(row, action=AuditAction.REVOKED, detail={"remote": remote})
            origin = context.current_origin()
            signals.send_on_commit(
                signals.token_revoked,
                token=row,
                actor=origin.actor,
                source=origin.source,
                remote=remote,
            )
    if remote:
        return of(row, Status.REVOKED, "revoked at Zoho and deleted", server=url)
    return of(row, Status.DELETED, "already invalid at Zoho; deleted", server=url)


def _revoke_failed(row: ZohoToken, error: str) -> None:
    with transaction.atomic(using=token_db()):
        audit.record(
            AuditAction.REVOKE_FAILED,
            token=row,
            outcome="error",
            detail={"error": error, "zoho_error": error},
        )


def revoke_tokens(
    selection: Iterable[str] | QuerySet,
    *,
    source: AuditSource = AuditSource.COMMAND,
    actor: Any = None,
) -> Report:
    """Revoke each token of ``selection`` (ids, in order, or a queryset); one outcome each."""
    report = Report()
    if isinstance(selection, QuerySet):
        found = list(selection)
    else:
        ids = list(dict.fromkeys(selection))
        by_id = {row.pk: row for row in ZohoToken.objects.exactly(ids=ids)}
        report.outcomes = [missing(i) for i in ids if i not in by_id]
        found = [by_id[i] for i in ids if i in by_id]
    report.outcomes += [revoke(row, source=source, actor=actor) for row in found]
    return report


def revoke_replaced(ids: Iterable[int] | None = None) -> Report:
    """Revoke refresh tokens that reconnects replaced (``ReplacedRefreshToken``) where they
    were issued; ``ids`` None: every pending one (the refresh sweep's retry).

    A confirmed revocation (or "unknown token" from the server that issued it) deletes the
    pending row and is audited ``revoked``; a failure is counted on the row (shown in the
    admin) and audited ``revoke_failed``; nothing here ever raises for Zoho's sake. One
    outcome per replaced refresh token: ``revoked``, or ``kept`` for the next sweep.
    """
    report = Report()
    pending = ReplacedRefreshToken.objects.all()
    if ids is not None:
        pending = pending.filter(pk__in=list(ids))
    report.outcomes = [_revoke_one_replaced(item) for item in pending]
    return report


def _revoke_one_replaced(item: ReplacedRefreshToken) -> Outcome:
    issued = ZohoToken(
        id=item.token_id, accounts_server=item.accounts_server, api_domain=item.api_domain
    )
    who = ZohoToken(id=item.token_id, tenant=item.tenant, user_name=item.user_name or None)
    error = ""
    try:
        url = accounts_url_for(issued.api_domain, issued.accounts_server)
        remote = oauth_client.revoke(url, refresh_token=item.refresh_token)
        if not remote and not issuer(issued.api_domain, issued.accounts_server):
            error = "issuer_unknown"
    except ZohoError as exc:
        error = str(exc.code)
    except TokenStoreError as exc:
        error = exc.reason  # e.g. "decryption": no key decrypts it any more
    with transaction.atomic(using=token_db()):
        if error:
            ReplacedRefreshToken.objects.filter(pk=item.pk).update(
                attempts=F("attempts") + 1, last_error=error[:200]
            )
            audit.record(
                AuditAction.REVOKE_FAILED,
                token=who,
                outcome="error",
                detail={"reason": "replaced by a reconnect", "zoho_error": error},
            )
            return of(who, Status.KEPT, f"replaced by a reconnect; revoking failed ({error})")
        ReplacedRefreshToken.objects.filter(pk=item.pk).delete()
        audit.record(
            AuditAction.REVOKED,
            token=who,
            detail={"reason": "replaced by a reconnect", "remote": remote},
        )
    return of(who, Status.REVOKED, "replaced by a reconnect")


def _on_refresh_tokens_replaced(sender: Any, replaced_ids: list[int], **kwargs: Any) -> None:
    """After a reconnect commits: revoke what it replaced, in the background (a slow or
    failing Zoho never holds up or fails the connect; the sweep retries)."""
    background.submit(revoke_replaced, replaced_ids)


def connect() -> None:
    signals.refresh_tokens_replaced.connect(
        _on_refresh_tokens_replaced, dispatch_uid="zoho_tokens.revoke_replaced"
    )


def pending_replaced(row: ZohoToken) -> list[ReplacedRefreshToken]:
    """The refresh tokens reconnects of ``row`` replaced that are not revoked yet."""
    return list(ReplacedRefreshToken.objects.filter(token_id=row.pk).order_by("created_at"))
