"""Operations shared by the admin, the management commands and the web views.

Each takes ``source`` and ``actor`` so signals and audit rows say who did what, and raises
``ServiceError`` (one safe line: what happened and what to do) for anything a user can fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from zoho_tokens import accounts, audit, refresh, signals, store
from zoho_tokens.conf import accounts_base_url, api_domain_for, zoho_settings
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken


class ServiceError(Exception):
    """A user-facing failure; ``str()`` is one line without any secret."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


def _from_zoho(exc: accounts.ZohoError) -> ServiceError:
    message = f"{exc}; {exc.hint}" if exc.hint else str(exc)
    return ServiceError(message, code=exc.code)


def exchange_grant(
    grant_token: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_url: str | None = None,
    data_center: str | None = None,
    environment: str | None = None,
    accounts_url: str | None = None,
    tenant: str = "",
    source: str = "command",
    actor: Any = None,
) -> ZohoToken:
    """Exchange a grant token, resolve the user name, save through the store, read it back."""
    grant_token = (grant_token or "").strip()
    if not grant_token:
        raise ServiceError("no grant token given: generate one in the Zoho API console")
    client_id = client_id or zoho_settings.CLIENT_ID
    client_secret = client_secret or zoho_settings.CLIENT_SECRET
    if not client_id:
        raise ServiceError(
            "no client id: pass --client-id or set ZOHO_TOKENS['CLIENT_ID'] (env ZOHO_CLIENT_ID)",
            code="config",
        )
    if not client_secret:
        raise ServiceError(
            "no client secret: pass --client-secret or set ZOHO_TOKENS['CLIENT_SECRET'] "
            "(env ZOHO_CLIENT_SECRET)",
            code="config",
        )
    try:
        base = (accounts_url or "").rstrip("/") or accounts_base_url(data_center)
        default_domain = api_domain_for(data_center, environment)
    except ValueError as exc:
        raise ServiceError(str(exc), code="config") from None
    _check_database()
    try:
        answer = accounts.exchange_grant(
            base,
            code=grant_token,
            client_id=client_id,
            client_secret=client_secret,
            redirect_url=redirect_url or zoho_settings.REDIRECT_URL,
        )
        api_domain = answer.api_domain or default_domain
        user_name = accounts.current_user_name(api_domain, answer.access_token)
    except accounts.ZohoError as exc:
        raise _from_zoho(exc) from None

    token = OAuthToken(
        client_id=client_id,
        client_secret=client_secret,
        grant_token=grant_token,
        refresh_token=answer.refresh_token,
        redirect_url=redirect_url or zoho_settings.REDIRECT_URL,
    )
    token.set_access_token(answer.access_token)
    token.set_expires_in(str(answer.expiry_time))
    token.set_api_domain(api_domain)
    token.set_user_signature(UserSignature(user_name))
    with signals.origin(source, actor):
        try:
            store.DjangoTokenStore(tenant=tenant or "", refresh_ahead=False).save_token(token)
        except TokenStoreError as exc:
            raise ServiceError(f"could not store the connection: {exc.error_message}") from None
    row = ZohoToken.objects.get(pk=token.get_id())
    _ = row.refresh_token, row.access_token  # read back: fails loudly if not decryptable
    return row


def _check_database() -> None:
    try:
        ZohoToken.objects.exists()
    except DatabaseError:
        raise ServiceError(
            "the zoho_tokens tables do not exist: run 'python manage.py migrate' first",
            code="database",
        ) from None


def refresh_now(row: ZohoToken, *, source: str = "command", actor: Any = None) -> ZohoToken:
    """Refresh a token's access token now (single-flight with any worker doing the same)."""
    if row.invalid_reason:
        raise ServiceError(
            f"token {row.pk} is invalid (Zoho: {row.invalid_reason}): connect this user again",
            code="invalid",
        )
    if not row.has_refresh_token:
        raise ServiceError(f"token {row.pk} has no refresh token to refresh with", code="invalid")
    with signals.origin(source, actor):
        try:
            return refresh.refresh_token(row, force=True)
        except TokenStoreError as exc:
            raise ServiceError(exc.error_message, code="refresh") from None


@dataclass
class RevokeOutcome:
    token_id: str
    user_name: str
    ok: bool
    remote: bool  # Zoho confirmed the revocation
    message: str


def revoke(row: ZohoToken, *, source: str = "command", actor: Any = None) -> RevokeOutcome:
    """Revoke the refresh token at Zoho, then delete the row. Keeps the row when Zoho fails."""
    label = row.user_name or row.pk
    with signals.origin(source, actor):
        remote = False
        if row.has_refresh_token:
            try:
                remote = accounts.revoke(
                    refresh.accounts_url_for(row), refresh_token=row.refresh_token
                )
            except accounts.ZohoError as exc:
                with transaction.atomic():
                    audit.record(
                        "revoke_failed",
                        token=row,
                        outcome="error",
                        detail={"error": exc.code},
                    )
                return RevokeOutcome(row.pk, label, False, False, f"kept: {_from_zoho(exc)}")
        with transaction.atomic():
            store.delete_row(row, action="revoked", detail={"remote": remote})
            origin = signals.current_origin()
            signals.send_on_commit(
                signals.token_revoked,
                token=row,
                actor=origin.actor,
                source=origin.source,
                remote=remote,
            )
    message = "revoked at Zoho and deleted" if remote else "already invalid at Zoho; deleted"
    return RevokeOutcome(row.pk, label, True, remote, message)


def purge(
    queryset: Any, *, tenant: str = "", source: str = "command", actor: Any = None
) -> list[str]:
    """Delete rows locally (no call to Zoho): one audit row and one ``tokens_purged``."""
    with signals.origin(source, actor):
        return store.purge(queryset, tenant=tenant)
