"""Grant exchange: a grant token becomes a stored connection (``zoho_login``, the admin's
"Connect with a grant token", the web flow's callback)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from zoho_tokens import audit, context, oauth_client, rows
from zoho_tokens.conf import zoho_settings
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import (
    accounts_base_url,
    api_domain_for,
    trusted_accounts_url,
    trusted_api_domain,
)
from zoho_tokens.exceptions import (
    ConfigurationError,
    DatabaseNotReady,
    ServiceError,
    TokenStoreError,
    ZohoError,
    ZohoTokensError,
    describe,
    detached,
)
from zoho_tokens.models import AuditAction, TokenAuditEvent, ZohoToken, token_db
from zoho_tokens.zohosdk import OAuthToken, UserSignature


@sensitive_variables("grant_token", "client_secret", "answer", "_")
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
    source: AuditSource = AuditSource.COMMAND,
    actor: Any = None,
) -> ZohoToken:
    """Exchange a grant token, resolve the user name, save through the store, read it back.

    The row records the accounts server the code was exchanged at: the token is refreshed and
    revoked there. Errors are raised outside their ``except`` blocks, so nothing is chained
    to them (the chained errors' frames hold the grant token and the client secret).
    """
    grant_token = (grant_token or "").strip()
    if not grant_token:
        raise ServiceError("no grant token given: generate one in the Zoho API console")
    client_id, client_secret = _client_credentials(client_id, client_secret)
    redirect_url = redirect_url or zoho_settings.REDIRECT_URL
    base = (accounts_url or "").rstrip("/") or accounts_base_url(data_center)
    _check_database()
    failure: ZohoTokensError | None = None
    try:
        answer = oauth_client.exchange_grant(
            base,
            code=grant_token,
            client_id=client_id,
            client_secret=client_secret,
            redirect_url=redirect_url,
        )
        answered = answer.api_domain or api_domain_for(data_center, environment)
        api_domain = trusted_api_domain(answered)
        if api_domain is None:
            # The access token would go to it (the user name lookup, then every CRM call).
            failure = ServiceError(
                f"Zoho's answer names api domain {answered[:100]!r}, which is neither a Zoho "
                "API domain nor ZOHO_TOKENS['API_DOMAIN']: nothing was sent to it or stored"
            )
            _grant_failed("untrusted_api_domain", tenant=tenant, source=source, actor=actor)
        else:
            user_name = oauth_client.current_user_name(api_domain, answer.access_token)
    except ZohoError as exc:
        failure = detached(exc)  # its frames below held the grant token and secret
        _grant_failed(str(exc.code), tenant=tenant, source=source, actor=actor)
    if failure is not None:
        raise failure
    token = OAuthToken(
        client_id=client_id,
        client_secret=client_secret,
        grant_token=grant_token,
        refresh_token=answer.refresh_token,
        redirect_url=redirect_url,
    )
    token.set_access_token(answer.access_token)
    token.set_expires_in(str(answer.expiry_time))
    token.set_api_domain(api_domain)
    token.set_user_signature(UserSignature(user_name))
    row = _store_exchanged(
        token, tenant, accounts_url=base, source=source, actor=actor, scope=answer.scope
    )
    _ = row.refresh_token, row.access_token  # read back: fails loudly if not decryptable
    return row


@sensitive_variables("client_secret")
def _client_credentials(client_id: str | None, client_secret: str | None) -> tuple[str, str]:
    """The given client id and secret, or the settings'; a clear error naming the setting."""
    client_id = client_id or zoho_settings.CLIENT_ID
    client_secret = client_secret or zoho_settings.CLIENT_SECRET
    if not client_id:
        raise ConfigurationError(
            "no client id: pass --client-id or set ZOHO_TOKENS['CLIENT_ID'] (env ZOHO_CLIENT_ID)"
        )
    if not client_secret:
        raise ConfigurationError(
            "no client secret: pass --client-secret or set ZOHO_TOKENS['CLIENT_SECRET'] "
            "(env ZOHO_CLIENT_SECRET)"
        )
    return client_id, client_secret


@sensitive_variables("token")
def _store_exchanged(
    token: OAuthToken,
    tenant: str,
    *,
    accounts_url: str,
    source: AuditSource,
    actor: Any,
    scope: str = "",
) -> ZohoToken:
    """Save a freshly exchanged token through the core write model; one-line errors only."""
    failure: ServiceError | None = None
    with context.origin(source, actor):
        try:
            rows.save(
                token,
                tenant or "",
                accounts_server=trusted_accounts_url(accounts_url) or None,
                scope=scope or None,
            )
        except (TokenStoreError, DatabaseError) as exc:
            failure = ServiceError(f"could not store the connection: {describe(exc)}")
    if failure is not None:
        raise failure
    return ZohoToken.objects.get(pk=token.get_id())


def _grant_failed(code: str, *, tenant: str, source: AuditSource, actor: Any) -> None:
    """Audit a grant exchange Zoho refused or did not answer (no token id: nothing stored)."""
    with context.origin(source, actor), transaction.atomic(using=token_db()):
        audit.record(
            AuditAction.GRANT_FAILED, tenant=tenant, outcome="error", detail={"zoho_error": code}
        )


def _check_database() -> None:
    try:
        ZohoToken.objects.exists()
        return
    except DatabaseError:
        pass
    raise DatabaseNotReady(
        "the zoho_tokens tables do not exist: run 'python manage.py migrate' first"
    )


#: Zoho keeps this many refresh tokens per user and client; the next grant deletes the oldest.
ZOHO_REFRESH_TOKEN_LIMIT = 20
#: From how many recent grants the admin warns.
GRANTS_WARNING = 15


def recent_grants(user_name: str | None, days: int = 30) -> int:
    """How many grants this Zoho user made through our exchanges in the last ``days`` days
    (every tenant: Zoho counts per user and client, not per tenant). From the audit trail."""
    if not user_name:
        return 0
    since = timezone.now() - dt.timedelta(days=days)
    return (
        TokenAuditEvent.objects.filter(
            action=AuditAction.GRANT_EXCHANGED, user_name=user_name, created_at__gte=since
        )
        .order_by()
        .count()
    )
