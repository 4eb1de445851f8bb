"""ZohoToken (one row per Zoho user and org, per tenant) and TokenAuditEvent.

Secret columns hold Fernet ciphertext (``zoho_tokens.fields``); attribute access gives
plaintext (decrypted lazily, once per instance). Lookups by token value go through the
``*_checksum`` columns. The status vocabulary and its one rule live here, beside the columns
they read.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, router
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zoho_tokens import crypto
from zoho_tokens.conf import zoho_settings
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import ConfigurationError, DecryptionError

# EncryptedTextField stays importable from here: migration 0001 names it so.
from zoho_tokens.fields import (
    SECRET_FIELDS,
    EncryptedTextField,
    seal,
    seal_values,
    secret_field,
)

#: The SDK's token columns, in its order (FileStore CSV positions, DBStore table columns).
SDK_COLUMNS = (
    "id",
    "user_name",
    "client_id",
    "client_secret",
    "refresh_token",
    "access_token",
    "grant_token",
    "expiry_time",
    "redirect_url",
    "api_domain",
)


def now_ms() -> int:
    """Now in epoch milliseconds, the unit of ``expiry_time`` (as the SDK stores it)."""
    return int(time.time() * 1000)


def token_db() -> str:
    """The database alias for every read and write of token state.

    ``ZOHO_TOKENS["DATABASE"]`` when set, else where the router writes ``ZohoToken``: token
    state must be read where it is written (a lagging replica hands out expired tokens and
    breaks the single-flight refresh), so reads never go to ``db_for_read``.
    """
    return zoho_settings.DATABASE or router.db_for_write(ZohoToken)


class TokenStatus(models.TextChoices):
    """The states an operator sees, in the admin, ``zoho_tokens list`` and ``purge``."""

    ACTIVE = "active", _("active")
    EXPIRING = "expiring", _("expiring soon")
    EXPIRED = "expired", _("access token expired (refreshable)")
    BACKING_OFF = "backing_off", _("backing off (refresh failed)")
    INVALID = "invalid", _("invalid")
    UNREADABLE = "unreadable", _("unreadable (no key decrypts it)")
    INCOMPLETE = "incomplete", _("incomplete (no refresh token and no user)")


class AuditAction(models.TextChoices):
    """What happened to a token (``TokenAuditEvent.action``)."""

    SAVED = "saved", _("saved")
    REFRESHED = "refreshed", _("refreshed")
    GRANT_EXCHANGED = "grant_exchanged", _("grant exchanged")
    REPLACED = "replaced", _("replaced by a newer connection")
    DELETED = "deleted", _("deleted")
    REVOKED = "revoked", _("revoked")
    PURGED = "purged", _("purged")
    IMPORTED = "imported", _("imported")
    REFRESH_FAILED = "refresh_failed", _("refresh failed")
    REVOKE_FAILED = "revoke_failed", _("revoke failed")
    GRANT_FAILED = "grant_failed", _("grant exchange failed")
    INVALIDATED = "invalidated", _("invalidated (Zoho refused the refresh token)")
    RECOVERED = "recovered", _("recovered (works again)")


@dataclass(frozen=True)
class StatusRule:
    """One status: its condition as SQL (``q``) and the same condition in Python (``test``)."""

    status: TokenStatus
    q: Q
    test: Callable[[ZohoToken], bool]


def status_rules(now: int | None = None, ahead_seconds: int | None = None) -> list[StatusRule]:
    """THE status rule, first match wins, for ``with_status()`` and ``ZohoToken.status()``.

    Computed from plain columns, so nothing is decrypted: incomplete (no refresh token and no
    user name: nothing Zoho refused, nothing that can ever work, e.g. a half-finished import),
    invalid (Zoho refused the refresh token, or it expired with nothing to refresh with),
    unreadable (the key that encrypted it,
    ``key_id``, is not among the keys in force), backing off (a refresh failed and nobody asks
    Zoho again until ``refresh_backoff_until``), expired (refreshable), expiring within
    ``max(REFRESH_AHEAD_SECONDS, 300)`` seconds, else active.
    """
    now = now_ms() if now is None else now
    in_force = _key_ids_in_force()
    ahead = zoho_settings.REFRESH_AHEAD_SECONDS if ahead_seconds is None else ahead_seconds
    soon = now + max(int(ahead), 300) * 1000
    gone_q = Q(expiry_time__isnull=True) | Q(expiry_time__lte=now)

    def gone(row: ZohoToken) -> bool:
        return row.expiry_time is None or row.expiry_time <= now

    return [
        StatusRule(
            TokenStatus.INCOMPLETE,
            Q(invalid_reason="")
            & Q(refresh_token_checksum="")
            & (Q(user_name__isnull=True) | Q(user_name="")),
            lambda row: not row.invalid_reason and not row.has_refresh_token and not row.user_name,
        ),
        StatusRule(
            TokenStatus.INVALID,
            ~Q(invalid_reason="") | (gone_q & Q(refresh_token_checksum="")),
            lambda row: bool(row.invalid_reason) or (gone(row) and not row.has_refresh_token),
        ),
        StatusRule(
            TokenStatus.UNREADABLE,
            ~Q(key_id="") & ~Q(key_id__in=in_force),
            lambda row: bool(row.key_id) and row.key_id not in in_force,
        ),
        StatusRule(
            TokenStatus.BACKING_OFF,
            Q(refresh_backoff_until__gt=now),
            lambda row: row.refresh_backoff_until is not None and row.refresh_backoff_until > now,
        ),
        StatusRule(TokenStatus.EXPIRED, gone_q, gone),
        StatusRule(
            TokenStatus.EXPIRING,
            Q(expiry_time__lte=soon),
            lambda row: row.expiry_time is not None and row.expiry_time <= soon,
        ),
    ]


def _key_ids_in_force() -> list[str]:
    """Fingerprints of the keys that can decrypt now; none when no key can be built (then
    every encrypted row is unreadable, and the configuration error says why)."""
    try:
        return crypto.key_ids()
    except ConfigurationError:
        return []


def generate_id() -> str:
    """A numeric string id, unique across processes without coordination.

    Milliseconds since the epoch shifted left 20 bits plus 20 random bits: sortable by
    creation, integer-parsable (the SDK's FileStore does ``int(id)`` on export/rollback) and
    never ``max + 1``. A collision (two inserts in one millisecond drawing the same 20 bits)
    fails the primary key and the store retries with a new id.
    """
    return str((int(time.time() * 1000) << 20) | secrets.randbits(20))


#: Rows fetched per round trip by ``ZohoTokenQuerySet.exactly``.
EXACT_CHUNK = 2000


class ZohoTokenQuerySet(models.QuerySet):
    """Selections the services, commands, admin and tasks share."""

    def for_tenant(self, tenant: str | None) -> ZohoTokenQuerySet:
        """The database's idea of ``tenant``'s rows: iterate them through ``exactly()``."""
        return self.filter(tenant=tenant or "")

    def exactly(
        self,
        tenant: str | None = None,
        *,
        user_name: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> Iterator[ZohoToken]:
        """This selection's rows of ``tenant`` (None: every tenant), of ``user_name`` and of
        ``ids`` when given, each compared again in Python, exactly: the one tenant-scoped
        selection that export, purge, list, refresh sweeps, tasks, import and revoke use.

        Why in Python: the database compares with the column's collation, and a loose one
        (``utf8mb4_general_ci`` after a DBA's ``CONVERT TO``, a nondeterministic ICU
        collation on PostgreSQL; check E010) makes tenant ``ACME``, ``Acmé`` or ``acme `` equal
        to ``acme``. The filters still run in SQL (and use the indexes); this drops what
        they let through. Rows come in chunks (``iterator``), so a big tenant streams.
        """
        selected = self
        if tenant is not None:
            selected = selected.for_tenant(tenant)
            tenant = tenant or ""
        if user_name is not None:
            selected = selected.filter(user_name=user_name)
        wanted = None
        if ids is not None:
            wanted = set(ids)
            selected = selected.filter(pk__in=wanted)
        row: Any
        for row in selected.iterator(chunk_size=EXACT_CHUNK):
            if tenant is not None and row.tenant != tenant:
                continue
            if user_name is not None and row.user_name != user_name:
                continue
            if wanted is not None and row.pk not in wanted:
                continue
            yield row

    def with_status(self, now: int | None = None) -> ZohoTokenQuerySet:
        """Annotate ``token_status`` (see ``status_rules``); filter on it like a column."""
        rules = status_rules(now)
        return self.annotate(
            token_status=Case(
                *(When(rule.q, then=Value(rule.status.value)) for rule in rules),
                default=Value(TokenStatus.ACTIVE.value),
                output_field=models.CharField(),
            )
        )

    def with_status_in(self, *statuses: str) -> ZohoTokenQuerySet:
        return self.with_status().filter(token_status__in=statuses)

    def expiring_within(self, seconds: int) -> ZohoTokenQuerySet:
        """Access token expires within ``seconds`` (or has expired, or has no expiry)."""
        limit = now_ms() + int(seconds) * 1000
        return self.filter(Q(expiry_time__isnull=True) | Q(expiry_time__lte=limit))

    def not_updated_since(self, days: int) -> ZohoTokenQuerySet:
        """Not saved or refreshed for ``days`` days."""
        return self.filter(updated_at__lt=timezone.now() - dt.timedelta(days=days))

    def by_access_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(access_token_checksum=crypto.checksum(value))

    def by_refresh_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(refresh_token_checksum=crypto.checksum(value))

    def by_grant_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(grant_token_checksum=crypto.checksum(value))

    def invalid(self) -> ZohoTokenQuerySet:
        """Tokens whose refresh token Zoho rejected."""
        return self.exclude(invalid_reason="")

    # -- writes that skip save(): still ciphertext, with checksums --------------------------

    def update(self, **kwargs: Any) -> int:
        """``update()`` with clear-text secrets stores ciphertext and their checksums."""
        new_key = ""
        for name in SECRET_FIELDS:
            value = kwargs.get(name)
            if isinstance(value, str) and not crypto.is_ciphertext(value):
                field = secret_field(self.model._meta, name)
                sealed = field.seal(value)
                kwargs[name] = sealed.ciphertext
                if field.checksum_field:
                    kwargs.setdefault(field.checksum_field, sealed.checksum)
                new_key = sealed.key_id or new_key
        if new_key and "key_id" not in kwargs:
            kwargs["key_id"] = Case(
                When(key_id="", then=Value(new_key)),
                default=F("key_id"),
                output_field=models.CharField(),
            )
        return super().update(**kwargs)

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        """``bulk_update()`` of clear-text secrets stores ciphertext and their checksums."""
        objs, fields = list(objs), list(fields)
        secret = [name for name in SECRET_FIELDS if name in fields]
        if secret:
            extra: set[str] = set()
            for obj in objs:
                extra |= seal(obj, secret)
            fields += sorted(extra - set(fields))
        for obj in objs:
            obj.__dict__["_zt_raw"] = True  # Django reads the attributes: give it ciphertext
        try:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        finally:
            for obj in objs:
                obj.__dict__.pop("_zt_raw", None)

    bulk_update.alters_data = True  # type: ignore[attr-defined]


class ZohoTokenManager(models.Manager.from_queryset(ZohoTokenQuerySet)):  # type: ignore[misc]
    """Every query on ``token_db()``: token state is read where it is written."""

    def get_queryset(self) -> ZohoTokenQuerySet:
        return super().get_queryset().using(token_db())


class AuditEventManager(models.Manager):
    """Audit rows live beside the tokens they describe (same transaction, same database)."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().using(token_db())


class ZohoToken(models.Model):
    """One Zoho OAuth connection. Secrets are encrypted; ``str``/``repr`` never show them."""

    id = models.CharField(_("id"), max_length=64, primary_key=True, default=generate_id)
    tenant = models.CharField(_("tenant"), max_length=64, blank=True, default="")
    user_name = models.CharField(  # noqa: DJ001 - NULLs keep the unique constraint portable
        _("user name"),
        max_length=255,
        null=True,
        blank=True,
        help_text=_('"email:org zgid", as the SDK resolves it.'),
    )
    client_id = models.CharField(_("client id"), max_length=255, blank=True, default="")
    client_secret = EncryptedTextField(_("client secret"))
    refresh_token = EncryptedTextField(_("refresh token"), checksum_field="refresh_token_checksum")
    access_token = EncryptedTextField(_("access token"), checksum_field="access_token_checksum")
    grant_token = EncryptedTextField(_("grant token"), checksum_field="grant_token_checksum")
    refresh_token_checksum = models.CharField(max_length=64, blank=True, default="", db_index=True)
    access_token_checksum = models.CharField(max_length=64, blank=True, default="", db_index=True)
    grant_token_checksum = models.CharField(max_length=64, blank=True, default="", db_index=True)
    expiry_time = models.BigIntegerField(_("access token expiry (epoch ms)"), null=True, blank=True)
    redirect_url = models.CharField(_("redirect URL"), max_length=1024, blank=True, default="")
    api_domain = models.CharField(_("API domain"), max_length=255, blank=True, default="")
    # Which key encrypted the secrets (crypto.fingerprint); "" when nothing is encrypted.
    key_id = models.CharField(_("key id"), max_length=16, blank=True, default="", editable=False)
    # The Zoho accounts server that issued the token: where it is refreshed and revoked.
    accounts_server = models.CharField(
        _("accounts server"), max_length=255, blank=True, default="", editable=False
    )
    # The scopes Zoho said the grant carries (its "scope" answer at exchange and refresh),
    # comma-separated; "" when unknown (stored before, or by the SDK's own exchange). Not a
    # secret: it says what the connection may do.
    scope = models.TextField(_("scopes"), blank=True, default="", editable=False)
    invalid_reason = models.CharField(
        _("invalid reason"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Set when Zoho rejected the refresh token (e.g. invalid_code)."),
    )
    invalidated_at = models.DateTimeField(_("invalidated at"), null=True, blank=True)
    # After a failed refresh (Zoho 5xx, garbage, timeout, unreachable), nobody asks Zoho again
    # for this token until refresh_backoff_until (epoch ms); shared by all processes.
    refresh_failures = models.PositiveIntegerField(default=0, editable=False)
    refresh_backoff_until = models.BigIntegerField(null=True, blank=True, editable=False)
    refresh_error = models.CharField(
        _("last refresh error"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Why the last refresh failed (no secret), while backing off."),
    )
    # Compare-and-set lease that makes exactly one worker refresh a token (see refresh.py).
    refresh_lease_until = models.BigIntegerField(null=True, blank=True, editable=False)
    refresh_lease_owner = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ZohoTokenManager()

    class Meta:
        verbose_name = _("Zoho token")
        verbose_name_plural = _("Zoho tokens")
        ordering = ["tenant", "user_name", "id"]
        indexes = [
            # Sweeps select due tokens by expiry; the admin sorts its status column by it.
            models.Index(fields=["expiry_time", "id"], name="zt_token_expiry"),
            # The admin's search: a user name prefix (PostgreSQL also gets an UPPER() index
            # for istartswith, migration 0005; MySQL/MariaDB compare case-insensitively).
            models.Index(fields=["user_name"], name="zt_token_user_name"),
        ]
        constraints = [
            # NULL user names are distinct on every backend: rows without a user name coexist.
            models.UniqueConstraint(
                fields=["tenant", "user_name"], name="zoho_tokens_unique_tenant_user_name"
            ),
        ]
        permissions = [
            ("revoke_zohotoken", _("Can revoke Zoho tokens at Zoho")),
            ("purge_zohotoken", _("Can purge (delete locally) Zoho tokens")),
        ]

    def __str__(self) -> str:
        return self.user_name or f"Zoho token {self.pk}"

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (task queues, caches) carry ciphertext only, never the plaintext cache."""
        state = super().__getstate__()
        state.pop("_zt_plain", None)
        state.pop("_zt_raw", None)
        seal_values(self._meta, state, SECRET_FIELDS)  # with checksums and key id, as save()
        state.pop("_zt_plain", None)
        return state

    def __repr__(self) -> str:
        return (
            f"<ZohoToken id={self.pk!r} tenant={self.tenant!r} user_name={self.user_name!r} "
            f"expiry_time={self.expiry_time!r}>"
        )

    # -- secrets never leave as clear text ------------------------------------------------------

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Encrypt assigned secrets first; a row saved under a new first key is re-encrypted
        whole, so ``key_id`` names the one key all of its values need."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None:
            self.seal_whole()
        else:
            names = [name for name in SECRET_FIELDS if name in update_fields]
            kwargs["update_fields"] = {*update_fields, *seal(self, names)}
        super().save(*args, **kwargs)

    def seal_whole(self) -> None:
        """Seal every secret as a whole-row save stores it (also for ``bulk_create`` and
        ``bulk_update`` of whole rows, e.g. a batched import): one key for the row."""
        seal(self, SECRET_FIELDS, reencrypt=self.key_id != crypto.primary_key_id(), claim=True)

    def _save_table(self, raw: bool = False, *args: Any, **kwargs: Any) -> Any:
        if not raw:
            return super()._save_table(raw, *args, **kwargs)  # type: ignore[misc]
        # loaddata: keep the serialised ciphertext as it is (encrypt old clear-text dumps),
        # and let Django read ciphertext, not plaintext, from the attributes.
        seal(self, SECRET_FIELDS)
        self.__dict__["_zt_raw"] = True
        try:
            return super()._save_table(raw, *args, **kwargs)  # type: ignore[misc]
        finally:
            self.__dict__.pop("_zt_raw", None)

    @property
    def email(self) -> str:
        return (self.user_name or "").rsplit(":", 1)[0]

    @property
    def org_id(self) -> str:
        name = self.user_name or ""
        return name.rsplit(":", 1)[1] if ":" in name else ""

    @property
    def has_refresh_token(self) -> bool:
        return bool(self.refresh_token_checksum)

    @property
    def is_invalid(self) -> bool:
        return bool(self.invalid_reason)

    def seconds_left(self, now: int | None = None) -> float | None:
        if self.expiry_time is None:
            return None
        return (self.expiry_time - (now_ms() if now is None else now)) / 1000

    def status(self, ahead_seconds: int | None = None) -> TokenStatus:
        """The row's ``TokenStatus`` (``with_status()``'s annotation when the query made one)."""
        annotated = self.__dict__.get("token_status")
        if annotated and ahead_seconds is None:
            return TokenStatus(annotated)
        rules = status_rules(ahead_seconds=ahead_seconds)
        return next((r.status for r in rules if r.test(self)), TokenStatus.ACTIVE)

    def masked(self, field: str) -> str:
        """A secret field shown as ``1000.…3f9a``; ``(unreadable)`` when it cannot decrypt."""
        try:
            return crypto.mask(getattr(self, field))
        except DecryptionError:
            return "(unreadable: key missing)"


class TokenAuditEvent(models.Model):
    """Who did what to which Zoho connection. Never holds a secret."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=32)
    token_id = models.CharField(_("token id"), max_length=64, blank=True, default="")
    user_name = models.CharField(_("user name"), max_length=255, blank=True, default="")
    tenant = models.CharField(_("tenant"), max_length=64, blank=True, default="")
    # No database constraint and no cascade: the audit outlives the user. With django-tenants
    # the users live in the public schema and the audit in every tenant's schema, where a
    # foreign key (or Django's SET_NULL, which updates the current schema only) would stop
    # the user's deletion. ``actor_name`` keeps who it was once the user is gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # (actor, created_at, id) below serves the admin's actor filter
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True, default="")
    source = models.CharField(
        _("source"), max_length=16, choices=AuditSource.choices, default=AuditSource.SDK
    )
    outcome = models.CharField(_("outcome"), max_length=32, blank=True, default="ok")
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = AuditEventManager()

    class Meta:
        verbose_name = _("Zoho token audit event")
        verbose_name_plural = _("Zoho token audit events")
        ordering = ["-created_at", "-id"]
        # One index per admin filter, each ending in the admin's order, so that every page of
        # the audit list (filtered or not) is an index range read, however many rows there
        # are. Search: exact token id/tenant, user name prefix (see ZohoToken's indexes).
        indexes = [
            models.Index(fields=["created_at", "id"], name="zt_audit_time"),
            models.Index(fields=["token_id", "created_at", "id"], name="zt_audit_token_time"),
            models.Index(fields=["action", "created_at", "id"], name="zt_audit_action_time"),
            models.Index(fields=["tenant", "created_at", "id"], name="zt_audit_tenant_time"),
            models.Index(fields=["source", "created_at", "id"], name="zt_audit_source_time"),
            models.Index(fields=["actor", "created_at", "id"], name="zt_audit_actor_time"),
            models.Index(fields=["user_name"], name="zt_audit_user_name"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.user_name or self.token_id} ({self.source})"


class ReplacedRefreshToken(models.Model):
    """A refresh token that a reconnect replaced, until it is revoked where it was issued.

    Zoho keeps 20 refresh tokens per user and client and deletes the oldest for the 21st,
    in use or not: every reconnect that leaves its old token alive spends that budget for
    every deployment of the client. Written in the saving transaction (so a crash cannot
    forget it), revoked after commit, retried by the refresh sweep until Zoho confirms.
    """

    created_at = models.DateTimeField(_("replaced at"), auto_now_add=True)
    token_id = models.CharField(_("token id"), max_length=64, blank=True, default="")
    tenant = models.CharField(_("tenant"), max_length=64, blank=True, default="")
    user_name = models.CharField(_("user name"), max_length=255, blank=True, default="")
    refresh_token = EncryptedTextField(_("refresh token"))
    accounts_server = models.CharField(_("accounts server"), max_length=255, blank=True, default="")
    api_domain = models.CharField(_("API domain"), max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(_("revoke attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True, default="")

    objects = AuditEventManager()

    class Meta:
        verbose_name = _("replaced refresh token")
        verbose_name_plural = _("replaced refresh tokens")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"replaced refresh token of {self.user_name or self.token_id}"

    def __repr__(self) -> str:
        return f"<ReplacedRefreshToken id={self.pk!r} token_id={self.token_id!r}>"
