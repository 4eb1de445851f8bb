"""``DjangoTokenStore``: the Zoho CRM SDK's ``TokenStore`` in the Django database.

Semantics follow the SDK's reference ``FileStore`` (matching order, filling of None fields,
errors), with three deliberate differences, all documented in the README:

- ``delete_token`` of a missing id is a no-op (FileStore raises);
- one row per user name: a save that gives a token the user name of another row replaces
  that row, so the id the SDK holds stays valid;
- every call is scoped to a tenant (``tenant`` argument, else the current tenant).

Every call is one short transaction of one or two queries on Django's own connection.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.db import IntegrityError, OperationalError, connections, transaction
from django.db.models import Q
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.token_store import TokenStore
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from zoho_tokens import audit, crypto, refresh, signals
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import SDK_COLUMNS, ZohoToken, generate_id
from zoho_tokens.tenancy import current_tenant

# OAuthToken attribute -> (getter, setter, model field, max length or None for encrypted text)
_TEXT_FIELDS = (
    ("client_id", 255),
    ("client_secret", None),
    ("refresh_token", None),
    ("access_token", None),
    ("grant_token", None),
    ("redirect_url", 1024),
    ("api_domain", 255),
)
_MAX_SECRET = 8192


def _str_or_none(value: Any, name: str, max_length: int | None) -> str | None:
    """Validate one value the SDK handed us: None or a string the database can hold."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenStoreError(f"{name} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise TokenStoreError(f"{name} contains a NUL character")
    limit = max_length or _MAX_SECRET
    if len(value) > limit:
        raise TokenStoreError(f"{name} is {len(value)} characters long; the limit is {limit}")
    return value


def _lookup_value(value: Any, name: str) -> str | None:
    """A token value to look up by checksum: any string (hashed), else a clear error."""
    if value is not None and not isinstance(value, str):
        raise TokenStoreError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _user_name(token: OAuthToken) -> str | None:
    signature = token.get_user_signature()
    if signature is None:
        return None
    if not isinstance(signature, UserSignature):
        raise TokenStoreError(
            f"user_signature must be a UserSignature, not {type(signature).__name__}"
        )
    return _str_or_none(signature.get_name(), "user name", 255)


def _expiry(token: OAuthToken) -> int | None:
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


_TOKEN_FIELDS = (
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


def _snapshot(token: OAuthToken) -> dict[str, Any]:
    return {name: getattr(token, f"get_{name}")() for name in _TOKEN_FIELDS}


def _restore(token: OAuthToken, snapshot: dict[str, Any]) -> None:
    for name, value in snapshot.items():
        getattr(token, f"set_{name}")(value)


def _is_transient(exc: OperationalError) -> bool:
    """Deadlock, lock wait timeout or serialization failure: worth one more try."""
    cause = exc.__cause__ or exc
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if code in ("40P01", "40001"):
        return True
    args = getattr(cause, "args", ())
    if args and args[0] in (1213, 1205):
        return True
    return "database is locked" in str(cause)


def _blank(value: str | None) -> str | None:
    return value if value else None


# -- the hot path --------------------------------------------------------------------------
# find_token runs before every SDK call. Building a query with the ORM costs several times
# more than running it, so each lookup shape is compiled once (per database) to SQL with
# placeholders and then executed directly; rows are light objects that decrypt on access.

_COLUMNS = (
    *SDK_COLUMNS,
    "access_token_checksum",
    "refresh_token_checksum",
    "grant_token_checksum",
)
_SECRETS = ("client_secret", "refresh_token", "access_token", "grant_token")
_sql_cache: dict[tuple, tuple[str, tuple[int, ...]]] = {}


class StoredRow:
    """The columns the store hands to the SDK; secrets decrypted on first access."""

    __slots__ = (*_COLUMNS, "_raw")

    def __init__(self, values: tuple) -> None:
        raw = {}
        for name, value in zip(_COLUMNS, values, strict=True):
            if name in _SECRETS:
                raw[name] = value or ""
            else:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "_raw", raw)

    @property
    def pk(self) -> str:
        return self.id

    def __getattr__(self, name: str) -> Any:
        if name not in _SECRETS:
            raise AttributeError(name)
        value = self._raw[name]
        if not value:
            return ""
        try:
            return crypto.decrypt(value)
        except crypto.DecryptionError:
            from zoho_tokens.exceptions import TokenDecryptionError

            raise TokenDecryptionError(self.id, name) from None

    def __repr__(self) -> str:
        return f"<StoredRow id={self.id!r} user_name={self.user_name!r}>"


def _leaves(query: Q) -> list[tuple[str, Any]]:
    out = []
    for child in query.children:
        if isinstance(child, Q):
            out.extend(_leaves(child))
        else:
            out.append(child)
    return out


def lookup(tenant: str, query: Q) -> list[StoredRow]:
    """Rows of ``tenant`` matching ``query`` (oldest first, at most 5), via cached SQL."""
    alias = ZohoToken.objects.db
    leaves = _leaves(query)
    shape = (alias, query.connector, tuple(name for name, _ in leaves))
    values = [tenant, *(value for _, value in leaves)]
    cached = _sql_cache.get(shape)
    if cached is None:
        markers = [f"__zoho_tokens_param_{i}__" for i in range(len(values))]
        template = Q()
        template.connector = query.connector
        template.children = [(name, markers[i + 1]) for i, (name, _) in enumerate(leaves)]
        qs = (
            ZohoToken.objects.using(alias)
            .filter(tenant=markers[0])
            .filter(template)
            .order_by("created_at", "id")
            .values_list(*_COLUMNS)[:5]
        )
        sql, params = qs.query.sql_with_params()
        if sorted(params) != sorted(markers) or len(params) != len(markers):
            raise TokenStoreError("internal error: unexpected lookup parameters")
        cached = (sql, tuple(markers.index(p) for p in params))
        _sql_cache[shape] = cached
    sql, order = cached
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [values[i] for i in order])
        return [StoredRow(row) for row in cursor.fetchall()]


class DjangoTokenStore(TokenStore):
    """Keeps SDK tokens in ``ZohoToken`` rows, encrypted, audited, scoped to a tenant.

    ``DjangoTokenStore()`` uses the current tenant (``zoho_tokens.tenancy``) at each call;
    ``DjangoTokenStore(tenant="acme")`` pins one. ``refresh_ahead=False`` turns off the
    single-flight refresh ahead of expiry (see ``zoho_tokens.refresh``).
    """

    def __init__(self, tenant: str | None = None, *, refresh_ahead: bool = True) -> None:
        if tenant is not None and not isinstance(tenant, str):
            raise TokenStoreError(f"tenant must be a string, not {type(tenant).__name__}")
        self._tenant = tenant
        self.refresh_ahead = refresh_ahead

    def __repr__(self) -> str:
        return f"DjangoTokenStore(tenant={self._tenant!r})"

    @property
    def tenant(self) -> str:
        return self._tenant if self._tenant is not None else current_tenant()

    # -- matching ------------------------------------------------------------------------

    @staticmethod
    def _match(token: OAuthToken) -> tuple[Q | None, Any]:
        """FileStore's ``check_condition`` as a query, plus a predicate for one row.

        Returns ``(None, None)`` when the token carries nothing to match on.
        """
        signature = token.get_user_signature()
        if signature is not None:
            name = signature.get_name() if isinstance(signature, UserSignature) else None
            if not isinstance(name, str) and name is not None:
                _user_name(token)  # a wrong type is a clear error
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

    @staticmethod
    def _fill(token: OAuthToken, row: ZohoToken) -> OAuthToken:
        """FileStore's ``set_merge_data``: fill the token's None fields from the row."""
        if token.get_id() is None:
            token.set_id(row.pk)
        if token.get_user_signature() is None and row.user_name:
            token.set_user_signature(UserSignature(row.user_name))
        for field, _limit in _TEXT_FIELDS:
            if getattr(token, f"get_{field}")() is None:
                getattr(token, f"set_{field}")(_blank(getattr(row, field)))
        if token.get_expires_in() is None and row.expiry_time is not None:
            token.set_expires_in(str(row.expiry_time))
        return token

    @staticmethod
    def _new_token() -> OAuthToken:
        token = object.__new__(OAuthToken)
        for name in _TOKEN_FIELDS:
            getattr(token, f"set_{name}")(None)
        token._OAuthToken__find_user = True
        return token

    def _guard(self, what: str, exc: Exception) -> TokenStoreError:
        if isinstance(exc, TokenStoreError):
            return exc
        return TokenStoreError(
            f"{what} failed in tenant {self.tenant!r}: {type(exc).__name__}", cause=exc
        )

    # -- TokenStore ----------------------------------------------------------------------

    def find_token(self, token: Any) -> Any:
        if not isinstance(token, OAuthToken):
            return token
        try:
            query, predicate = self._match(token)
            if query is None:
                return None
            rows = lookup(self.tenant, query)
            row = next((r for r in rows if predicate(r)), None)
            if row is None:
                return None
            row = self._fresh(row)
            return self._fill(token, row)
        except Exception as exc:
            raise self._guard("find_token", exc) from exc

    def find_token_by_id(self, id: Any) -> OAuthToken:
        try:
            if not isinstance(id, str):
                raise TokenStoreError(f"token id must be a string, not {type(id).__name__}")
            row = next(iter(lookup(self.tenant, Q(pk=id))), None)
            if row is None:
                raise TokenStoreError(f"Given ID is invalid: no Zoho token with id {id[:64]!r}")
            row = self._fresh(row)
            return self._fill(self._new_token(), row)
        except Exception as exc:
            raise self._guard("find_token_by_id", exc) from exc

    def get_tokens(self) -> list[OAuthToken]:
        try:
            rows = ZohoToken.objects.for_tenant(self.tenant).order_by("created_at", "id")
            return [self._fill(self._new_token(), row) for row in rows]
        except Exception as exc:
            raise self._guard("get_tokens", exc) from exc

    def save_token(self, token: Any) -> None:
        if not isinstance(token, OAuthToken):
            raise TokenStoreError(f"save_token expects an OAuthToken, not {type(token).__name__}")
        try:
            self._save_with_retry(token)
        except Exception as exc:
            raise self._guard("save_token", exc) from exc

    def delete_token(self, id: Any) -> None:
        if id is None:
            return
        try:
            if not isinstance(id, str):
                raise TokenStoreError(f"token id must be a string, not {type(id).__name__}")
            with transaction.atomic():
                row = (
                    ZohoToken.objects.for_tenant(self.tenant)
                    .select_for_update()
                    .filter(pk=id)
                    .first()
                )
                if row is None:
                    return
                delete_row(row)
        except Exception as exc:
            raise self._guard("delete_token", exc) from exc

    def delete_tokens(self) -> None:
        try:
            purge(ZohoToken.objects.for_tenant(self.tenant), tenant=self.tenant)
        except Exception as exc:
            raise self._guard("delete_tokens", exc) from exc

    # -- internals -----------------------------------------------------------------------

    def _fresh(self, row: Any) -> Any:
        """Refresh ahead of expiry, once across workers (see ``zoho_tokens.refresh``)."""
        if not self.refresh_ahead or not refresh.needs_refresh(row):
            return row
        return refresh.ensure_fresh(ZohoToken.objects.get(pk=row.pk))

    def _save_with_retry(self, token: OAuthToken) -> None:
        """Upsert, retrying the races a concurrent writer of the same user can cause.

        - The unique constraint refuses our insert because another process inserted the
          same user name (or id) after our select: matching again finds its row and updates
          it.
        - InnoDB deadlocks two ``SELECT ... FOR UPDATE`` that found nothing and then both
          insert (gap locks); PostgreSQL may report a serialization failure: the loser
          retries after a short random pause.

        Each attempt starts from the token as the caller passed it (a failed attempt may
        have given it a new id or filled fields from a row).
        """
        snapshot = _snapshot(token)
        outer = transaction.get_connection(ZohoToken.objects.db).in_atomic_block
        attempts = 5
        for attempt in range(attempts):
            try:
                with transaction.atomic(using=ZohoToken.objects.db):
                    self._upsert(token)
                return
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
            except OperationalError as exc:
                # InnoDB rolls back the whole transaction on a deadlock: inside a caller's
                # transaction there is nothing left to retry in.
                if not _is_transient(exc) or outer or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311
            _restore(token, snapshot)

    def _upsert(self, token: OAuthToken) -> None:
        tenant = self.tenant
        name = _user_name(token)
        token_id = _str_or_none(token.get_id(), "id", 64)
        values = {f: _str_or_none(getattr(token, f"get_{f}")(), f, n) for f, n in _TEXT_FIELDS}
        expiry = _expiry(token)
        _str_or_none(tenant, "tenant", 64)

        if token_id is not None:
            primary, predicate = Q(pk=token_id), (lambda r: r.pk == token_id)
        else:
            primary, predicate = self._match(token)
        query = Q(pk__in=[])
        if primary is not None:
            query |= primary
        if name:
            query |= Q(user_name=name)
        rows = list(
            ZohoToken.objects.for_tenant(tenant)
            .select_for_update()
            .filter(query)
            .order_by("created_at", "id")
        )
        row = next((r for r in rows if predicate is not None and predicate(r)), None)
        if row is not None:
            self._fill(token, row)
            name = _user_name(token)
            values = {f: getattr(token, f"get_{f}")() for f, _n in _TEXT_FIELDS}
            expiry = _expiry(token)
            created = False
        else:
            if (token_id is not None or name is not None) and not any(
                values[f] for f in ("refresh_token", "access_token", "grant_token")
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

        old_access, old_refresh = row.access_token_checksum, row.refresh_token_checksum
        row.user_name = name or None
        for field, value in values.items():
            setattr(row, field, value or "")
        row.expiry_time = expiry
        new_access = crypto.checksum(values["access_token"])
        new_refresh = crypto.checksum(values["refresh_token"])
        if row.invalid_reason and (new_access != old_access or new_refresh != old_refresh):
            row.invalid_reason, row.invalidated_at = "", None
        row.save(force_insert=created, force_update=not created)

        refreshed = not created and new_access != old_access and new_refresh == old_refresh != ""
        exchanged = (
            bool(values["grant_token"])
            and (created or new_refresh != old_refresh)
            and signals.current_origin().operation != "import"
        )
        _announce_save(row, created, refreshed, exchanged, replaced)


def _announce_save(
    row: ZohoToken, created: bool, refreshed: bool, exchanged: bool, replaced: list[ZohoToken]
) -> None:
    origin = signals.current_origin()
    for old in replaced:
        audit.record("replaced", token=old, detail={"reason": f"same user saved as {row.pk}"})
        signals.send_on_commit(
            signals.token_deleted, token=old, actor=origin.actor, source=origin.source
        )
    action = "grant_exchanged" if exchanged else "refreshed" if refreshed else "saved"
    audit.record(
        action,
        token=row,
        detail={
            "created": created,
            "expiry_time": row.expiry_time,
            "replaced_ids": [r.pk for r in replaced],
        },
    )
    signals.send_on_commit(signals.token_saved, token=row, created=created, source=origin.source)
    if refreshed:
        signals.send_on_commit(signals.token_refreshed, token=row, source=origin.source)
    if exchanged:
        signals.send_on_commit(
            signals.grant_exchanged, token=row, actor=origin.actor, source=origin.source
        )


def delete_row(row: ZohoToken, action: str = "deleted", detail: dict | None = None) -> None:
    """Delete one row with its audit row and ``token_deleted`` (caller holds a transaction)."""
    origin = signals.current_origin()
    ZohoToken.objects.filter(pk=row.pk).delete()
    audit.record(action, token=row, detail=detail)
    signals.send_on_commit(
        signals.token_deleted, token=row, actor=origin.actor, source=origin.source
    )


def purge(queryset: Any, tenant: str = "", batch_size: int = 500) -> list[str]:
    """Delete the rows of ``queryset`` in batches; one audit row and one ``tokens_purged``."""
    origin = signals.current_origin()
    deleted: list[str] = []
    with transaction.atomic():
        ids = list(queryset.values_list("pk", flat=True))
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            ZohoToken.objects.filter(pk__in=chunk).delete()
            deleted.extend(chunk)
        audit.record(
            "purged",
            tenant=tenant,
            detail={"count": len(deleted), "token_ids": deleted[:1000]},
        )
        signals.send_on_commit(
            signals.tokens_purged,
            token_ids=deleted,
            count=len(deleted),
            actor=origin.actor,
            source=origin.source,
        )
    return deleted
