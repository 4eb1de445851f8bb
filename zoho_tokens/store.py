"""``DjangoTokenStore``: the Zoho CRM SDK's ``TokenStore`` in the Django database.

The SDK adapter and its hot path. Semantics follow the SDK's reference ``FileStore``
(matching order, filling of None fields, errors; the helpers live in ``zoho_tokens.rows``),
with three deliberate differences, all documented in docs/reference/store.md:

- ``delete_token`` of a missing id is a no-op (FileStore raises);
- one row per user name: a save that gives a token the user name of another row replaces
  that row, so the id the SDK holds stays valid;
- every call is scoped to a tenant (``tenant`` argument, else the current tenant).

Every call is one short transaction of one or two queries on Django's own connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Q

from zoho_tokens import metrics, refresh, rows
from zoho_tokens.connections import database_error_in, heal
from zoho_tokens.exceptions import (
    TokenStoreError,
    describe,
    detached,
)
from zoho_tokens.fields import SECRET_FIELDS, opened
from zoho_tokens.models import SDK_COLUMNS, ZohoToken, token_db
from zoho_tokens.tenancy import current_tenant
from zoho_tokens.zohosdk import OAuthToken, TokenStore

# -- the hot path --------------------------------------------------------------------------
# find_token runs before every SDK call. Building a query with the ORM costs several times
# more than running it, so each lookup shape is compiled once (per database) to SQL with
# placeholders and then executed directly; rows are light objects that decrypt on access.

_COLUMNS = (
    *SDK_COLUMNS,
    "tenant",
    "access_token_checksum",
    "refresh_token_checksum",
    "grant_token_checksum",
    "refresh_backoff_until",
    "scope",
)
T = TypeVar("T")
_sql_cache: dict[tuple, str] = {}
_PARAM_NAMES = tuple(f"p{i}" for i in range(16))  # lookups have at most 4 parameters
_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")  # Django's own (FORMAT_QMARK_REGEX)


class StoredRow:
    """The columns the store hands to the SDK; secrets decrypted on first access.

    A plain instance dict filled from the fetched tuple in one C-level step (this runs for
    every lookup); secrets are kept apart, so reading one goes through ``__getattr__``.
    """

    def __init__(self, values: tuple) -> None:
        columns = dict(zip(_COLUMNS, values, strict=True))
        columns["_raw"] = {name: columns.pop(name) or "" for name in SECRET_FIELDS}
        self.__dict__ = columns

    @property
    def pk(self) -> str:
        return self.id

    def __getattr__(self, name: str) -> Any:
        if name not in SECRET_FIELDS:
            raise AttributeError(name)
        return opened(self.id, name, self._raw[name])

    def __repr__(self) -> str:
        return f"<StoredRow id={self.id!r} user_name={self.user_name!r}>"


def _leaves(query: Q) -> list[tuple[str, Any]]:
    out: list[Any] = []
    for child in query.children:
        if isinstance(child, Q):
            out.extend(_leaves(child))
        else:
            out.append(child)
    return out


def named_placeholders(sql: str, indexes: list[int]) -> str:
    """``sql`` with its n-th ``%s`` as ``%(p<indexes[n]>)s`` (Django's "pyformat" style).

    With a dict of parameters Django's SQLite backend converts placeholders with one ``%``
    formatting instead of a regular expression over the whole statement, which cost about
    15 µs per lookup, a quarter of ``find_token``; psycopg and MySQLdb take the dict as is.
    """
    pieces = _FORMAT_PLACEHOLDER.split(sql)
    if len(pieces) != len(indexes) + 1:
        raise TokenStoreError("internal error: unexpected lookup placeholders")
    named = [pieces[0]]
    for index, piece in zip(indexes, pieces[1:], strict=True):
        named += [f"%(p{index})s", piece]
    return "".join(named)


def lookup(tenant: str, query: Q) -> list[StoredRow]:
    """Rows of ``tenant`` matching ``query`` (oldest first, at most 5), via cached SQL.

    The tenant is compared again in Python, exactly: a MySQL/MariaDB column with a case-,
    accent- or pad-insensitive collation (see ``zoho_tokens.collation``) would otherwise hand
    tenant ``ACME`` the rows of tenant ``acme``.
    """
    alias = token_db()
    leaves = _leaves(query)
    shape = (alias, query.connector, tuple(name for name, _ in leaves))
    values = [tenant, *(value for _, value in leaves)]
    cached = _sql_cache.get(shape)
    if cached is None:
        if len(values) > len(_PARAM_NAMES):
            raise TokenStoreError("internal error: too many lookup parameters")
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
        cached = named_placeholders(sql, [markers.index(p) for p in params])
        _sql_cache[shape] = cached
    with connections[alias].cursor() as cursor:
        cursor.execute(cached, dict(zip(_PARAM_NAMES, values, strict=False)))
        found = [StoredRow(row) for row in cursor.fetchall()]
    return [row for row in found if row.tenant == tenant]


class DjangoTokenStore(TokenStore):
    """Keeps SDK tokens in ``ZohoToken`` rows, encrypted, audited, scoped to a tenant.

    ``DjangoTokenStore()`` uses the current tenant (``zoho_tokens.tenancy``) at each call;
    ``DjangoTokenStore(tenant="acme")`` pins one. ``refresh_ahead=False`` turns off the
    single-flight refresh ahead of expiry (see ``zoho_tokens.refresh``).

    This class only adapts the SDK's interface: writes are ``zoho_tokens.rows``, lookups the
    cached SQL above, and every error leaves as one ``TokenStoreError``.
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

    @property
    def follows_current_tenant(self) -> bool:
        """True when no tenant is pinned: each call uses ``current_tenant()``."""
        return self._tenant is None

    def _guard(self, what: str, exc: Exception) -> TokenStoreError:
        """One line that says what failed and why (``describe``: never a secret, never a
        database driver's text)."""
        if isinstance(exc, TokenStoreError):
            return exc
        reason = describe(database_error_in(exc) or exc)
        return TokenStoreError(f"{what} failed in tenant {self.tenant!r}: {reason}", cause=exc)

    # -- TokenStore ----------------------------------------------------------------------
    # Each call runs through ``connections.heal`` (a broken connection is replaced and the
    # call run once more) and leaves, on any failure, as one ``TokenStoreError`` raised here,
    # outside the ``except``: nothing chained, no frame below this one. Error reports show
    # every frame's variables, and the frames below hold the secrets being read or written.

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return heal(call)
        except Exception as exc:
            error = detached(self._guard(what, exc))
        raise error

    def find_token(self, token: Any) -> Any:
        if not isinstance(token, OAuthToken):
            return token
        started = metrics.find_token_started()
        try:
            return self._call("find_token", lambda: self._find(token))
        finally:
            metrics.find_token_done(started)

    def _find(self, token: OAuthToken) -> OAuthToken | None:
        query, predicate = rows.match(token)
        if query is None or predicate is None:
            return None
        found = lookup(self.tenant, query)
        row = next((r for r in found if predicate(r)), None)
        if row is None:
            return None
        return rows.fill(token, self._fresh(row))

    def find_token_by_id(self, id: Any) -> OAuthToken:
        if not isinstance(id, str):
            raise TokenStoreError(f"token id must be a string, not {type(id).__name__}")
        return self._call("find_token_by_id", lambda: self._find_by_id(id))

    def _find_by_id(self, id: str) -> OAuthToken:
        row = next((r for r in lookup(self.tenant, Q(pk=id)) if r.id == id), None)
        if row is None:
            raise TokenStoreError(f"Given ID is invalid: no Zoho token with id {id[:64]!r}")
        return rows.fill(rows.new_token(), self._fresh(row))

    def get_tokens(self) -> list[OAuthToken]:
        def tokens() -> list[OAuthToken]:
            tenant = self.tenant
            found = ZohoToken.objects.for_tenant(tenant).order_by("created_at", "id")
            return [rows.fill(rows.new_token(), row) for row in found if row.tenant == tenant]

        return self._call("get_tokens", tokens)

    def save_token(self, token: Any) -> None:
        if not isinstance(token, OAuthToken):
            raise TokenStoreError(f"save_token expects an OAuthToken, not {type(token).__name__}")
        self._call("save_token", lambda: rows.save(token, self.tenant))

    def delete_token(self, id: Any) -> None:
        if id is None:
            return
        if not isinstance(id, str):
            raise TokenStoreError(f"token id must be a string, not {type(id).__name__}")
        self._call("delete_token", lambda: rows.delete_by_id(self.tenant, id))

    def delete_tokens(self) -> None:
        tenant = self.tenant
        self._call(
            "delete_tokens",
            lambda: rows.purge(
                ZohoToken.objects.for_tenant(tenant), tenant=tenant, exact_tenant=True
            ),
        )

    def _fresh(self, row: StoredRow) -> Any:
        """Refresh ahead of expiry, once across workers (see ``zoho_tokens.refresh``)."""
        if not self.refresh_ahead or not refresh.needs_refresh(row):
            return row
        if refresh.backing_off(row) and refresh.still_valid(row):
            return row  # nobody may ask Zoho now, and this token still works: no query
        return refresh.ensure_fresh(ZohoToken.objects.get(pk=row.pk))
