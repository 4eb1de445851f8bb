"""Operations shared by the admin, the management commands, the web views and tasks.

Each takes ``source`` and ``actor`` so signals and audit rows say who did what. Operations on
several tokens return a report with one outcome per token; the callers only present it.
Anything a user can fix raises a ``ServiceError`` subclass (one safe line: what happened
and what to do; ``code`` and ``status_code`` say which kind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from zoho_tokens import audit, oauth_client, refresh, rows, signals
from zoho_tokens.conf import zoho_settings
from zoho_tokens.datacenters import (
    accounts_base_url,
    api_domain_for,
    host_of,
    trusted_accounts_url,
)
from zoho_tokens.exceptions import (
    ConfigurationError,
    DatabaseNotReady,
    DecryptionError,
    RefreshFailed,
    RefreshRefused,
    ServiceError,
    Throttled,
    TokenDecryptionError,
    TokenInvalidError,
    TokenStoreError,
    TokenUnusable,
    ZohoError,
    ZohoRequestFailed,
    ZohoTimeout,
    ZohoTokensError,
    ZohoUnreachable,
)
from zoho_tokens.models import AuditAction, TokenStatus, ZohoToken, token_db
from zoho_tokens.zohosdk import OAuthToken, UserSignature

__all__ = [
    "PurgeSelection",
    "RefreshOutcome",
    "RefreshReport",
    "RefreshStatus",
    "RevokeOutcome",
    "RevokeReport",
    "ServiceError",
    "exchange_grant",
    "purge",
    "refresh_now",
    "refresh_tokens",
    "revoke",
    "revoke_tokens",
    "select_for_refresh",
]


def label(row: ZohoToken) -> str:
    """``<id> (<user name>[, tenant <t>])``: how outcomes name a token."""
    tenant = f", tenant {row.tenant}" if row.tenant else ""
    return f"{row.pk} ({row.user_name or 'no user name'}{tenant})"


# -- grant exchange ----------------------------------------------------------------------------


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
    source: str = "command",
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
        api_domain = answer.api_domain or api_domain_for(data_center, environment)
        user_name = oauth_client.current_user_name(api_domain, answer.access_token)
    except ZohoError as exc:
        failure = ZohoRequestFailed.from_zoho(exc)
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
    row = _store_exchanged(token, tenant, accounts_url=base, source=source, actor=actor)
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
    token: OAuthToken, tenant: str, *, accounts_url: str, source: str, actor: Any
) -> ZohoToken:
    """Save a freshly exchanged token through the core write model; one-line errors only."""
    failure: ServiceError | None = None
    with signals.origin(source, actor):
        try:
            rows.save(
                token, tenant or "", accounts_server=trusted_accounts_url(accounts_url) or None
            )
        except TokenStoreError as exc:
            failure = ServiceError(f"could not store the connection: {exc.error_message}")
        except DatabaseError as exc:
            failure = ServiceError(
                f"could not store the connection: database error ({type(exc).__name__})"
            )
    if failure is not None:
        raise failure
    return ZohoToken.objects.get(pk=token.get_id())


def _grant_failed(code: str, *, tenant: str, source: str, actor: Any) -> None:
    """Audit a grant exchange Zoho refused or did not answer (no token id: nothing stored)."""
    with signals.origin(source, actor), transaction.atomic(using=token_db()):
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


# -- refresh -----------------------------------------------------------------------------------


def refresh_now(row: ZohoToken, *, source: str = "command", actor: Any = None) -> ZohoToken:
    """Refresh a token's access token now (single-flight with any worker doing the same).

    Raises ``TokenUnusable`` for a token that cannot be refreshed, else ``RefreshFailed``
    whose ``code`` says why: ``Throttled.default_code``, ``ZohoUnreachable.default_code`` or
    ``ZohoTimeout.default_code``, ``DecryptionError.default_code``, Zoho's own error code.
    """
    if row.invalid_reason:
        raise TokenUnusable(
            f"token {row.pk} is invalid (Zoho: {row.invalid_reason}): connect this user again"
        )
    if not row.has_refresh_token:
        raise TokenUnusable(f"token {row.pk} has no refresh token to refresh with")
    with signals.origin(source, actor):
        try:
            return refresh.refresh_token(row, force=True)
        except TokenStoreError as exc:
            failure = RefreshFailed(exc.error_message, code=_refresh_error_code(exc))
    raise failure  # outside the except: nothing chained


def _refresh_error_code(exc: TokenStoreError) -> str | None:
    if isinstance(exc, RefreshRefused):
        return exc.zoho_code or None
    if isinstance(exc, TokenDecryptionError):
        return DecryptionError.default_code
    if isinstance(exc, TokenInvalidError):
        return TokenUnusable.default_code
    return None


class RefreshStatus(models.TextChoices):
    """What a refresh did to one token (``RefreshOutcome.status``)."""

    REFRESHED = "refreshed", _("refreshed")
    NOT_DUE = "not_due", _("not due (refreshed meanwhile by another worker)")
    THROTTLED = "throttled", _("throttled by Zoho (held back)")
    FAILED = "failed", _("failed")
    INVALID = "invalid", _("invalid (connect again)")
    SKIPPED = "skipped", _("skipped (accounts server unreachable)")
    UNREADABLE = "unreadable", _("unreadable (no key decrypts it)")


#: The statuses that leave nothing to do: every other one makes a report not ok.
REFRESH_OK = frozenset({RefreshStatus.REFRESHED, RefreshStatus.NOT_DUE})


@dataclass
class RefreshOutcome:
    token_id: str
    label: str
    status: RefreshStatus
    message: str  # one line, never a secret
    row: ZohoToken | None = None  # the row as stored after the attempt
    user_name: str = ""
    tenant: str = ""
    accounts_server: str = ""  # where it was (or would have been) refreshed

    @property
    def ok(self) -> bool:
        return self.status in REFRESH_OK

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable, without the row (and so without any secret)."""
        expiry = self.row.expiry_time if self.row is not None else None
        return {
            "token_id": self.token_id,
            "user_name": self.user_name,
            "tenant": self.tenant,
            "status": str(self.status),
            "ok": self.ok,
            "message": str(self.message),
            "accounts_server": self.accounts_server,
            "expiry_time": expiry,
        }


@dataclass
class RefreshReport:
    """What a refresh did: one outcome per token, in the order they were tried."""

    outcomes: list[RefreshOutcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ids asked for that do not exist
    unreachable: list[str] = field(default_factory=list)  # accounts servers the sweep gave up on

    def count(self, status: RefreshStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def refreshed(self) -> int:
        return self.count(RefreshStatus.REFRESHED)

    @property
    def failed(self) -> int:
        """Tokens that failed for a reason of their own, and ids that name no token."""
        return len(self.missing) + self.count(RefreshStatus.FAILED)

    @property
    def skipped(self) -> int:
        return self.count(RefreshStatus.SKIPPED)

    @property
    def counts(self) -> dict[str, int]:
        """``{status: number}`` of the statuses that occurred, in ``RefreshStatus`` order."""
        return {s.value: self.count(s) for s in RefreshStatus if self.count(s)}

    @property
    def ok(self) -> bool:
        """Nothing left to do: every token refreshed (or not due), no unknown id."""
        return not self.missing and all(o.ok for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (a task's result): ``ok``, ``counts``, ``outcomes``, ``missing``,
        ``unreachable``."""
        return {
            "ok": self.ok,
            "counts": self.counts,
            "outcomes": [o.as_dict() for o in self.outcomes],
            "missing": list(self.missing),
            "unreachable": list(self.unreachable),
        }


def select_for_refresh(
    ids: Iterable[str] = (),
    *,
    expiring_within: int | None = None,
    tenant: str | None = None,
) -> QuerySet:
    """The named tokens, or every token (of ``tenant``), soonest expiry first.

    Invalid tokens are selected too: they are never sent to Zoho, but a sweep reports them
    every time, so a scheduler keeps saying that someone must connect again.
    """
    selected = ZohoToken.objects.all()
    if tenant is not None:
        selected = selected.for_tenant(tenant)
    ids = list(ids)
    if ids:
        selected = selected.filter(pk__in=ids)
    if expiring_within is not None:
        selected = selected.expiring_within(expiring_within)
    return selected.order_by("expiry_time", "id")


def refresh_tokens(
    ids: Iterable[str] = (),
    *,
    expiring_within: int | None = None,
    tenant: str | None = None,
    source: str = "command",
    actor: Any = None,
) -> RefreshReport:
    """Refresh the selected tokens (see ``select_for_refresh``), each on its own.

    One token's failure does not stop the others: a throttled token ("Access Denied" is
    per refresh token) is held back by the refresh layer for a while, and the others go on;
    a token no configured key decrypts, or that Zoho rejects, fails alone. Only an accounts
    server that cannot be reached (or times out) stops the sweep, and only for its own
    tokens: they are reported ``skipped``, tokens of other data centers go on.
    With ``expiring_within``, a token that another worker refreshed since it was selected is
    ``not_due`` and not refreshed again (each refresh counts against Zoho's limit).
    """
    ids = list(dict.fromkeys(ids))
    report = RefreshReport()
    found = list(select_for_refresh(ids, expiring_within=expiring_within, tenant=tenant))
    report.missing = [i for i in ids if i not in {row.pk for row in found}]
    for row in found:
        report.outcomes.append(
            _refresh_one(
                row,
                within=expiring_within,
                unreachable=report.unreachable,
                source=source,
                actor=actor,
            )
        )
    return report


def _refresh_one(
    row: ZohoToken, *, within: int | None, unreachable: list[str], source: str, actor: Any
) -> RefreshOutcome:
    """Refresh one token; adds its accounts server to ``unreachable`` when that is down."""
    server = ""

    def outcome(status: RefreshStatus, message: str, current: ZohoToken | None) -> RefreshOutcome:
        return RefreshOutcome(
            row.pk, label(row), status, message, current, row.user_name or "", row.tenant, server
        )

    if row.invalid_reason:
        return outcome(RefreshStatus.INVALID, _invalid_message(row), row)
    if within is not None:
        current = ZohoToken.objects.filter(pk=row.pk).first()
        if current is None:
            return outcome(RefreshStatus.FAILED, "deleted before it was refreshed", None)
        if current.expiry_time is not None and not refresh.needs_refresh(current, within):
            return outcome(RefreshStatus.NOT_DUE, "refreshed meanwhile by another worker", current)
        row = current
    server = refresh.accounts_url_for(row)
    if server in unreachable:
        return outcome(
            RefreshStatus.SKIPPED,
            f"accounts server unreachable ({host_of(server)}): not tried, try again later",
            row,
        )
    before = (row.expiry_time, row.access_token_checksum)
    error: ServiceError | None = None
    try:
        refresh_now(row, source=source, actor=actor)
    except ServiceError as exc:
        error = exc
    # Judge by what is stored: another worker may have refreshed it meanwhile.
    current = ZohoToken.objects.filter(pk=row.pk).first()
    if current is None:
        return outcome(RefreshStatus.FAILED, "deleted while refreshing", None)
    if error is None and (current.expiry_time, current.access_token_checksum) != before:
        return outcome(RefreshStatus.REFRESHED, "refreshed", current)
    if current.invalid_reason:
        return outcome(RefreshStatus.INVALID, str(error) if error else "", current)
    code = error.code if error is not None else None
    message = str(error) if error is not None else "Zoho issued no access token"
    if code == DecryptionError.default_code:
        return outcome(RefreshStatus.UNREADABLE, message, current)
    if code == Throttled.default_code:
        return outcome(RefreshStatus.THROTTLED, message, current)
    if code in (ZohoUnreachable.default_code, ZohoTimeout.default_code):
        unreachable.append(server)
    return outcome(RefreshStatus.FAILED, message, current)


def _invalid_message(row: ZohoToken) -> str:
    return (
        f"marked invalid (Zoho: {row.invalid_reason}), not sent to Zoho: connect this user "
        "again with 'manage.py zoho_login', or remove it with 'zoho_tokens purge --invalid'"
    )


# -- revoke ------------------------------------------------------------------------------------


@dataclass
class RevokeOutcome:
    token_id: str
    user_name: str
    ok: bool
    remote: bool  # Zoho confirmed the revocation
    message: str


@dataclass
class RevokeReport:
    outcomes: list[RevokeOutcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def revoked(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> int:
        return len(self.missing) + sum(1 for o in self.outcomes if not o.ok)


def revoke(row: ZohoToken, *, source: str = "command", actor: Any = None) -> RevokeOutcome:
    """Revoke the refresh token where it was issued, then delete the row.

    Keeps the row when Zoho fails, and when Zoho says it does not know the token but is not
    known to be the server that issued it: that answer proves nothing, and the token may
    still work at its own data center.
    """
    label_ = row.user_name or row.pk
    with signals.origin(source, actor):
        remote = False
        url = ""
        try:
            if row.has_refresh_token:
                url = refresh.accounts_url_for(row)
                remote = oauth_client.revoke(url, refresh_token=row.refresh_token)
        except ZohoError as exc:
            _revoke_failed(row, exc.code)
            return RevokeOutcome(row.pk, label_, False, False, f"kept: {exc.with_hint()}")
        except TokenStoreError as exc:
            # e.g. the refresh token cannot be decrypted: keep the row, say why.
            return RevokeOutcome(row.pk, label_, False, False, f"kept: {exc.error_message}")
        if url and not remote and refresh.issuer_of(row) is None:
            _revoke_failed(row, "issuer_unknown")
            return RevokeOutcome(
                row.pk,
                label_,
                False,
                False,
                f"kept: Zoho at {host_of(url)} does not know this token, and it is not known "
                "which accounts server issued it, so it may still be valid there: revoke it "
                "at its data center (or the user removes the app under Zoho's Connected Apps), "
                "then purge it",
            )
        with transaction.atomic(using=token_db()):
            rows.delete(row, action=AuditAction.REVOKED, detail={"remote": remote})
            origin = signals.current_origin()
            signals.send_on_commit(
                signals.token_revoked,
                token=row,
                actor=origin.actor,
                source=origin.source,
                remote=remote,
            )
    message = "revoked at Zoho and deleted" if remote else "already invalid at Zoho; deleted"
    return RevokeOutcome(row.pk, label_, True, remote, message)


def _revoke_failed(row: ZohoToken, error: str) -> None:
    with transaction.atomic(using=token_db()):
        audit.record(
            AuditAction.REVOKE_FAILED,
            token=row,
            outcome="error",
            detail={"error": error, "zoho_error": error},
        )


def revoke_tokens(
    selection: Iterable[str] | QuerySet, *, source: str = "command", actor: Any = None
) -> RevokeReport:
    """Revoke each token of ``selection`` (ids, in order, or a queryset); one outcome each."""
    report = RevokeReport()
    if isinstance(selection, QuerySet):
        found = list(selection)
    else:
        ids = list(dict.fromkeys(selection))
        by_id = {row.pk: row for row in ZohoToken.objects.filter(pk__in=ids)}
        report.missing = [i for i in ids if i not in by_id]
        found = [by_id[i] for i in ids if i in by_id]
    report.outcomes = [revoke(row, source=source, actor=actor) for row in found]
    return report


# -- purge -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeSelection:
    """Which tokens a purge deletes. Criteria combine with AND; ``everything`` stands alone."""

    invalid: bool = False
    older_than_days: int | None = None
    everything: bool = False
    tenant: str | None = None
    #: ``TokenStatus`` values (``with_status_in``: the rule the admin and ``list`` use);
    #: ``invalid=True`` is ``statuses=("invalid",)``.
    statuses: tuple[str, ...] = ()

    def problem(self) -> str:
        """Why this selection is refused ("" when it is fine): a purge needs a criterion."""
        unknown = sorted(set(self.statuses) - set(TokenStatus.values))
        if unknown:
            return (
                f"unknown status {', '.join(unknown)}: use one of {', '.join(TokenStatus.values)}"
            )
        criteria = self.invalid or bool(self.statuses) or self.older_than_days is not None
        if not criteria and not self.everything:
            return (
                "refusing to purge without a criterion: pass --status STATUS, --invalid, "
                "--older-than DAYS or --all"
            )
        if criteria and self.everything:
            return "--all cannot be combined with --status, --invalid or --older-than"
        return ""

    def queryset(self) -> QuerySet:
        selected = ZohoToken.objects.all()
        if self.tenant is not None:
            selected = selected.for_tenant(self.tenant)
        statuses = {*self.statuses, *([TokenStatus.INVALID.value] if self.invalid else [])}
        if statuses:
            selected = selected.with_status_in(*sorted(statuses))
        if self.older_than_days is not None:
            selected = selected.not_updated_since(self.older_than_days)
        return selected.order_by("tenant", "user_name", "id")


def purge(
    selection: QuerySet | PurgeSelection,
    *,
    tenant: str = "",
    source: str = "command",
    actor: Any = None,
) -> list[str]:
    """Delete rows locally (no call to Zoho): one audit row and one ``tokens_purged``."""
    if isinstance(selection, PurgeSelection):
        if selection.problem():
            raise ServiceError(selection.problem())
        tenant = selection.tenant or tenant
        selection = selection.queryset()
    with signals.origin(source, actor):
        return rows.purge(selection, tenant=tenant)
