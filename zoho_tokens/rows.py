"""The core write model: how an SDK ``OAuthToken`` becomes a ``ZohoToken`` row, and back.

Below both the SDK adapter (``store``) and the refresher (``refresh``), and used by
``services`` and ``importers``: save (the upsert with its retries, audit rows and signals),
delete, purge, mark invalid, and the ``OAuthToken`` helpers (validate, match, fill) that follow
the SDK's reference ``FileStore``. Nothing here knows about tenants' context variables or the
refresh lease; every write runs on ``token_db()`` in one short transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.views.decorators.debug import sensitive_variables

from zoho_tokens import audit, context, crypto, lifecycle, signals
from zoho_tokens.connections import is_transient, pause
from zoho_tokens.datacenters import (
    issuer,
    origin_of,
    trusted_accounts_url,
    trusted_api_domain,
)
from zoho_tokens.exceptions import TokenStoreError, ZohoError
from zoho_tokens.models import (
    AuditAction,
    ReplacedRefreshToken,
    ZohoToken,
    ZohoTokenQuerySet,
    generate_id,
    token_db,
)
from zoho_tokens.outcomes import Outcome, Report, Status
from zoho_tokens.zohosdk import Initializer, OAuthToken, UserSignature

#: OAuthToken text attributes -> max length (None: encrypted text, up to MAX_SECRET).
TEXT_FIELDS = (
    ("client_id", 255),
    ("client_secret", None),
    ("refresh_token", None),
    ("access_token", None),
    ("grant_token", None),
    ("redirect_url", 1024),
    ("api_domain", 255),
)
MAX_SECRET = 8192
#: Every OAuthToken attribute the store keeps (getter/setter names).
TOKEN_FIELDS = (
    "id",
    "user_signature",
    "client_id",
    "client_secret",
    "refresh_token",
    "access_token",
    "grant_token",
    "expires_in",
    "redirect_url",
    "api_domain",
)
SAVE_ATTEMPTS = 10  # a 50 ms statement_timeout under contention needs more than 5

Predicate = Callable[[Any], bool]


# -- validating what the SDK hands us --------------------------------------------------------


@sensitive_variables("value")
def str_or_none(value: Any, name: str, max_length: int | None) -> str | None:
    """Validate one value the SDK handed us: None or a string the database can hold."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenStoreError(f"{name} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise TokenStoreError(f"{name} contains a NUL character")
    limit = max_length or MAX_SECRET
    if len(value) > limit:
        raise TokenStoreError(f"{name} is {len(value)} characters long; the limit is {limit}")
    return value


def api_domain_for_sdk(value: str | None) -> str | None:
    """``value`` if the access token may go there, else None: ``trusted_api_domain``, or the
    API URL of the SDK environment the project initialised itself (code, not data: e.g. the
    fake Zoho in its tests, a proxy)."""
    if not value:
        return None
    trusted = trusted_api_domain(value)
    if trusted is not None:
        return trusted
    try:
        environment = getattr(Initializer.get_initializer(), "environment", None)
    except Exception:
        environment = None
    url = str(getattr(environment, "url", "") or "").rstrip("/")
    origin = origin_of(str(value).strip().rstrip("/"))
    if url and origin is not None and origin == origin_of(url):
        return origin
    return None


def check_api_domain(value: str | None) -> None:
    """Refuse an api domain that may not receive the access token (one line naming it)."""
    if value and api_domain_for_sdk(value) is None:
        raise TokenStoreError(
            f"api_domain {value[:100]!r} is neither a Zoho API domain of a known data center "
            "nor ZOHO_TOKENS['API_DOMAIN'] (nor the SDK environment's URL): the access token "
            "would be sent there; fix the value or set API_DOMAIN"
        )


def _lookup_value(value: Any, name: str) -> str | None:
    """A token value to look up by checksum: any string (hashed), else a clear error."""
    if value is not None and not isinstance(value, str):
        raise TokenStoreError(f"{name} must be a string, not {type(value).__name__}")
    return value


def user_name(token: OAuthToken) -> str | None:
    signature = token.get_user_signature()
    if signature is None:
        return None
    if not isinstance(signature, UserSignature):
        raise TokenStoreError(
            f"user_signature must be a UserSignature, not {type(signature).__name__}"
        )
    return str_or_none(signature.get_name(), "user name", 255)


def expiry(token: OAuthToken) -> int | None:
    value = token.get_expires_in()
    if value is None or value == "":
        return None
    try:
        result = int(str(value))
    except ValueError:
        raise TokenStoreError(
            "expires_in must be epoch milliseconds as digits, "
            f"got a {type(value).__name__} of length {len(str(value))}"
        ) from None
    if not 0 <= result < 2**62:
        raise TokenStoreError("expires_in is out of range for epoch milliseconds")
    return result


# -- OAuthToken <-> row ------------------------------------------------------------------------


def new_token() -> OAuthToken:
    """An empty OAuthToken, as the SDK's stores build one (no constructor validation)."""
    token = object.__new__(OAuthToken)
    for name in TOKEN_FIELDS:
        getattr(token, f"set_{name}")(None)
    token._OAuthToken__find_user = True
    return token


@sensitive_variables("access", "grant", "refresh")
def match(token: OAuthToken) -> tuple[Q | None, Predicate | None]:
    """FileStore's ``check_condition`` as a query, plus a predicate for one row.

    Returns ``(None, None)`` when the token carries nothing to match on.
    """
    signature = token.get_user_signature()
    if signature is not None:
        name = signature.get_name() if isinstance(signature, UserSignature) else None
        if not isinstance(name, str) and name is not None:
            user_name(token)  # a wrong type is a clear error
        if not name or "\x00" in name or len(name) > 255:
            return None, None  # a name no row can hold matches nothing
        return Q(user_name=name), lambda row: row.user_name == name
    access = _lookup_value(token.get_access_token(), "access_token")
    client_id = token.get_client_id()
    client_secret = token.get_client_secret()
    if access is not None and client_id is None and client_secret is None:
        if not access:
            return None, None
        digest = crypto.checksum(access)
        return Q(access_token_checksum=digest), lambda r: r.access_token_checksum == digest
    grant = _lookup_value(token.get_grant_token(), "grant_token")
    refresh = _lookup_value(token.get_refresh_token(), "refresh_token")
    if (grant is not None or refresh is not None) and (
        client_id is not None and client_secret is not None
    ):
        query, digests = Q(), []
        if grant:
            query |= Q(grant_token_checksum=crypto.checksum(grant))
            digests.append(("grant_token_checksum", crypto.checksum(grant)))
        if refresh:
            query |= Q(refresh_token_checksum=crypto.checksum(refresh))
            digests.append(("refresh_token_checksum", crypto.checksum(refresh)))
        if not digests:
            return None, None
        return query, lambda r: any(getattr(r, f) == d for f, d in digests)
    return None, None


_FILL_FIELDS = tuple((field, f"get_{field}", f"set_{field}") for field, _limit in TEXT_FIELDS)


def fill(token: OAuthToken, row: Any) -> OAuthToken:
    """FileStore's ``set_merge_data``: fill the token's None fields from the row."""
    if token.get_id() is None:
        token.set_id(row.pk)
    if token.get_user_signature() is None and row.user_name:
        token.set_user_signature(UserSignature(row.user_name))
    for field, getter, setter in _FILL_FIELDS:
        if getattr(token, getter)() is None:
            value = getattr(row, field) or None
            if field == "api_domain" and value:
                # A stored api domain that is neither Zoho's nor API_DOMAIN is not handed to
                # the SDK (it sends the access token there); None: its environment's URL.
                value = api_domain_for_sdk(value)
            getattr(token, setter)(value)
    if token.get_expires_in() is None and row.expiry_time is not None:
        token.set_expires_in(str(row.expiry_time))
    return token


def _snapshot(token: OAuthToken) -> dict[str, Any]:
    return {name: getattr(token, f"get_{name}")() for name in TOKEN_FIELDS}


def _restore(token: OAuthToken, snapshot: dict[str, Any]) -> None:
    for name, value in snapshot.items():
        getattr(token, f"set_{name}")(value)


# -- writes ------------------------------------------------------------------------------------


def save(
    token: OAuthToken,
    tenant: str,
    *,
    accounts_server: str | None = None,
    attempts: int = SAVE_ATTEMPTS,
    scope: str | None = None,
    before_write: Callable[[ZohoToken], None] | None = None,
) -> ZohoToken:
    """Upsert ``token`` into ``tenant``, retrying the races a concurrent writer can cause;
    returns the row as written.

    ``accounts_server`` is the Zoho accounts server that issued the token (where it is
    refreshed and revoked later); when the caller does not know it, a new row records the
    server it can be sure of (``datacenters.issuer``) and an existing row keeps its own. ``scope``
    is Zoho's ``scope`` answer (None: unknown, the row keeps what it has). ``before_write``
    may change the locked row in the same ``UPDATE`` (the refresher gives its lease back so).

    - The unique constraint refuses our insert because another process inserted the same
      user name (or id) after our select: matching again finds its row and updates it.
    - InnoDB deadlocks two ``SELECT ... FOR UPDATE`` that found nothing and then both insert
      (gap locks); PostgreSQL may report a serialization failure, cancel a statement
      (``statement_timeout``) or time out on a lock: any refusal ``connections.is_transient``
      names is retried after a short random pause, ``attempts`` times in all.

    Each attempt starts from the token as the caller passed it (a failed attempt may have
    given it a new id or filled fields from a row).
    """
    snapshot = _snapshot(token)
    alias = token_db()
    outer = transaction.get_connection(alias).in_atomic_block
    for attempt in range(attempts):
        try:
            with transaction.atomic(using=alias):
                row = _upsert(token, tenant, accounts_server, scope, before_write)
            return row
        except IntegrityError:
            if attempt == attempts - 1:
                raise
        except OperationalError as exc:
            # InnoDB rolls back the whole transaction on a deadlock: inside a caller's
            # transaction there is nothing left to retry in.
            if not is_transient(exc) or outer or attempt == attempts - 1:
                if is_transient(exc):
                    exc._zoho_tokens_retried = True  # type: ignore[attr-defined]
                raise
            pause(attempt)
        _restore(token, snapshot)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises


def normal_scope(scope: str) -> str:
    """Zoho's ``scope`` answer (comma- or space-separated) as ``"A,B,C"``, duplicates dropped."""
    return ",".join(dict.fromkeys(s for s in scope.replace(" ", ",").split(",") if s))


def check(token: OAuthToken, tenant: str) -> tuple[str | None, str | None, int | None]:
    """Refuse what no save may write (``TokenStoreError``, one line); else the token's
    ``(user name, id, expiry time)``."""
    name = user_name(token)
    token_id = str_or_none(token.get_id(), "id", 64)
    for field, limit in TEXT_FIELDS:
        str_or_none(getattr(token, f"get_{field}")(), field, limit)
    check_api_domain(token.get_api_domain())
    expiry_time = expiry(token)
    str_or_none(tenant, "tenant", 64)
    return name, token_id, expiry_time


def _upsert(
    token: OAuthToken,
    tenant: str,
    accounts_server: str | None = None,
    scope: str | None = None,
    before_write: Callable[[ZohoToken], None] | None = None,
) -> ZohoToken:
    name, token_id, expiry_time = check(token, tenant)

    primary: Q | None
    predicate: Predicate | None
    if token_id is not None:
        primary, predicate = Q(pk=token_id), (lambda r: r.pk == token_id)
    else:
        primary, predicate = match(token)
    query = Q(pk__in=[])
    if primary is not None:
        query |= primary
    if name:
        query |= Q(user_name=name)
    rows = _locked(tenant, query)
    row = next((r for r in rows if predicate is not None and predicate(r)), None)
    if row is not None:
        fill(token, row)
        name = user_name(token)
        expiry_time = expiry(token)
        created = False
    else:
        if (token_id is not None or name is not None) and not (
            token.get_refresh_token() or token.get_access_token() or token.get_grant_token()
        ):
            raise TokenStoreError(
                "Given user authentication details not found: a token with an id or user "
                "name needs a refresh, access or grant token to be saved"
            )
        if token_id is None:
            token_id = generate_id()
            token.set_id(token_id)
        row = ZohoToken(id=token_id, tenant=tenant)
        created = True

    # One row per user name: the same Zoho user connecting again replaces the older row.
    replaced = [r for r in rows if r.pk != row.pk and name and r.user_name == name]
    if replaced:
        ZohoToken.objects.filter(pk__in=[r.pk for r in replaced]).delete()

    # The old row as it was (its ciphertext), for the refresh tokens this save replaces.
    before = [*replaced] if created else [*replaced, _stored_copy(row)]
    old_refresh = row.refresh_token_checksum
    refreshed = put(token, row, name, expiry_time, accounts_server, created, replaced)
    if scope:
        row.scope = normal_scope(scope)
    new_refresh = crypto.checksum(token.get_refresh_token())
    if before_write is not None:
        before_write(row)
    row.save(using=token_db(), force_insert=created, force_update=not created)
    if new_refresh and context.current_origin().operation != "import":
        _replace_refresh_tokens(
            [old for old in before if old.refresh_token_checksum not in ("", new_refresh)]
        )

    exchanged = (
        bool(token.get_grant_token())
        and (created or new_refresh != old_refresh)
        and context.current_origin().operation != "import"
    )
    _announce_save(row, created, refreshed, exchanged, replaced)
    return row


def put(
    token: OAuthToken,
    row: ZohoToken,
    name: str | None,
    expiry_time: int | None,
    accounts_server: str | None,
    created: bool,
    replaced: Sequence[ZohoToken] = (),
) -> bool:
    """Put the token's values on the row (unsaved): a row that was failing or invalid and
    gets a new token recovers. Returns whether this is a refresh (same refresh token, new
    access token). Shared by ``save`` and batched writers (the import)."""
    old_access, old_refresh = row.access_token_checksum, row.refresh_token_checksum
    previous = next(filter(None, map(lifecycle.unhealthy, [row, *replaced])), None)
    failures = max((r.refresh_failures for r in [row, *replaced]), default=0)
    _copy(token, row, name, expiry_time, accounts_server)
    new_access = crypto.checksum(token.get_access_token())
    new_refresh = crypto.checksum(token.get_refresh_token())
    if previous is not None and (new_access != old_access or new_refresh != old_refresh):
        lifecycle.recover(row, previous, failures)  # a working token again
    return not created and new_access != old_access and new_refresh == old_refresh != ""


def _stored_copy(row: ZohoToken) -> ZohoToken:
    """The row's stored columns (ciphertext as read), before the save changes them."""
    copy = ZohoToken()
    copy.__dict__.update(
        {k: v for k, v in row.__dict__.items() if k not in ("_state", "_zt_plain")}
    )
    return copy


def _replace_refresh_tokens(olds: list[ZohoToken]) -> None:
    """Record the refresh tokens a reconnect replaced (in this transaction) and have them
    revoked where they were issued once it commits (``services.revocations``).

    Zoho keeps 20 refresh tokens per user and client and deletes the oldest for the 21st:
    an old token left alive spends that budget. Imports are left alone (the source store
    may still use its tokens). The ciphertext is copied, never decrypted here.
    """
    if not olds:
        return
    pending = [
        ReplacedRefreshToken(
            token_id=old.pk,
            tenant=old.tenant,
            user_name=old.user_name or "",
            refresh_token=old.__dict__.get("refresh_token", ""),
            accounts_server=old.accounts_server,
            api_domain=old.api_domain,
        )
        for old in olds
    ]
    for item in pending:
        item.save(using=token_db(), force_insert=True)
    signals.send_on_commit(
        signals.refresh_tokens_replaced, replaced_ids=[item.pk for item in pending]
    )


def _locked(tenant: str, query: Q) -> list[ZohoToken]:
    """The tenant's rows matching ``query``, locked until the caller's transaction ends."""
    return [
        r
        for r in ZohoToken.objects.for_tenant(tenant)
        .select_for_update()
        .filter(query)
        .order_by("created_at", "id")
        if r.tenant == tenant  # exactly: a loose MySQL collation may match "ACME" to "acme"
    ]


def _copy(
    token: OAuthToken,
    row: ZohoToken,
    name: str | None,
    expiry_time: int | None,
    accounts_server: str | None,
) -> None:
    """Put the token's values on the row (the row's setters encrypt and checksum them).

    The secrets go from the token to the row without a local holding them (error reports
    show every frame's locals).
    """
    row.user_name = name or None
    for field, _limit in TEXT_FIELDS:
        setattr(row, field, getattr(token, f"get_{field}")() or "")
    row.expiry_time = expiry_time
    # Only a server that will be trusted when read back is recorded (not an SDK environment's
    # own accounts URL: that is code of this process, not a fact about the token).
    server = issuer(row.api_domain, accounts_server or row.accounts_server)
    row.accounts_server = trusted_accounts_url(server) or ""


def _announce_save(
    row: ZohoToken, created: bool, refreshed: bool, exchanged: bool, replaced: list[ZohoToken]
) -> None:
    origin = context.current_origin()
    for old in replaced:
        audit.record(
            AuditAction.REPLACED, token=old, detail={"reason": f"same user saved as {row.pk}"}
        )
        signals.send_on_commit(
            signals.token_deleted, token=old, actor=origin.actor, source=origin.source
        )
    action, detail = _save_event(row, created, refreshed, exchanged, replaced)
    audit.record(action, token=row, detail=detail)
    _send_saved(row, created, refreshed)
    if exchanged:
        signals.send_on_commit(
            signals.grant_exchanged, token=row, actor=origin.actor, source=origin.source
        )


def _save_event(
    row: ZohoToken, created: bool, refreshed: bool, exchanged: bool, replaced: list[ZohoToken]
) -> tuple[str, dict[str, Any]]:
    """The audit action and detail of a save of ``row``."""
    action = (
        AuditAction.GRANT_EXCHANGED
        if exchanged
        else AuditAction.REFRESHED
        if refreshed
        else AuditAction.SAVED
    )
    detail = {
        "created": created,
        "expiry_time": row.expiry_time,
        "replaced_ids": [r.pk for r in replaced],
    }
    return action, detail


def _send_saved(row: ZohoToken, created: bool, refreshed: bool) -> None:
    source = context.current_origin().source
    signals.send_on_commit(signals.token_saved, token=row, created=created, source=source)
    if refreshed:
        signals.send_on_commit(signals.token_refreshed, token=row, source=source)


def announce_saves(saved: list[tuple[ZohoToken, bool, bool]]) -> None:
    """What ``save`` announces, for rows a batched writer saved: ``(row, created,
    refreshed)`` each; the audit rows in one bulk insert (the caller's transaction)."""
    audit.record_each(
        [
            (*_save_event(row, created, refreshed, False, []), row)
            for row, created, refreshed in saved
        ]
    )
    for row, created, refreshed in saved:
        _send_saved(row, created, refreshed)


def delete_by_id(tenant: str, token_id: str) -> bool:
    """Delete ``tenant``'s token ``token_id`` if it exists; False when there was none."""
    with transaction.atomic(using=token_db()):
        found = ZohoToken.objects.for_tenant(tenant).select_for_update().filter(pk=token_id)
        row = next((r for r in found if r.tenant == tenant and r.pk == token_id), None)
        if row is None:
            return False
        delete(row)
    return True


def delete(row: ZohoToken, action: str = AuditAction.DELETED, detail: dict | None = None) -> None:
    """Delete one row with its audit row and ``token_deleted`` (caller holds a transaction)."""
    origin = context.current_origin()
    ZohoToken.objects.filter(pk=row.pk).delete()
    audit.record(action, token=row, detail=detail)
    signals.send_on_commit(
        signals.token_deleted, token=row, actor=origin.actor, source=origin.source
    )


def purge(
    queryset: QuerySet, tenant: str = "", batch_size: int = 500, *, exact_tenant: bool = False
) -> Report:
    """Delete the rows of ``queryset`` in batches; an audit row per token (keeping its user
    name and tenant, and how many the purge deleted) and one ``tokens_purged``; one
    ``purged`` outcome per token.

    ``exact_tenant``: the selection is ``tenant``'s; rows whose tenant is not exactly it (a
    loose MySQL collation matches ``ACME`` to ``acme``) are left alone.
    """
    origin = context.current_origin()
    deleted: list[str] = []
    with transaction.atomic(using=token_db()):
        found = cast(
            ZohoTokenQuerySet, queryset.using(token_db()).only("pk", "user_name", "tenant")
        )
        selected = found.exactly(tenant if exact_tenant else None)
        who = [(row.pk, row.user_name, row.tenant) for row in selected]
        ids = [pk for pk, _name, _t in who]
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            ZohoToken.objects.filter(pk__in=chunk).delete()
            deleted.extend(chunk)
        audit.record_many(AuditAction.PURGED, who, detail={"count": len(deleted)})
        report = Report([Outcome(Status.PURGED, pk, name or "", t) for pk, name, t in who])
        signals.send_on_commit(
            signals.tokens_purged,
            token_ids=deleted,
            count=len(deleted),
            actor=origin.actor,
            source=origin.source,
        )
    return report


def record_refresh_failure(
    row: ZohoToken, exc: ZohoError, *, attempt: int, backoff_until: int | None
) -> None:
    """Audit and announce a refresh Zoho did not answer usefully (unreachable, 5xx, throttled);
    the caller has written the backoff. ``lifecycle`` decides what it means for the connection."""
    lifecycle.record_failure(row, exc, attempt=attempt, backoff_until=backoff_until)


def mark_invalid(row: ZohoToken, reason: str) -> bool:
    """Flag a token whose refresh token Zoho refused (``lifecycle.invalidate``: audited,
    ``token_refresh_failed`` and ``token_invalidated`` once). False if it already was."""
    return lifecycle.invalidate(row, reason)
