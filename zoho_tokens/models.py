"""ZohoToken (one row per Zoho user and org, per tenant) and TokenAuditEvent.

Secret columns hold Fernet ciphertext; attribute access gives plaintext (decrypted lazily,
once per instance). Lookups by token value go through the ``*_checksum`` columns.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from zoho_tokens import crypto
from zoho_tokens.exceptions import TokenDecryptionError

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


def generate_id() -> str:
    """A numeric string id, unique across processes without coordination.

    Milliseconds since the epoch shifted left 20 bits plus 20 random bits: sortable by
    creation, integer-parsable (the SDK's FileStore does ``int(id)`` on export/rollback) and
    never ``max + 1``. A collision (two inserts in one millisecond drawing the same 20 bits)
    fails the primary key and the store retries with a new id.
    """
    return str((int(time.time() * 1000) << 20) | secrets.randbits(20))


class Ciphertext(str):
    """A column value as read from the database, still encrypted."""


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: decrypt on first read, keep plaintext assigned by code as is."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        raw = super().__get__(instance, cls)
        if not isinstance(raw, Ciphertext):
            return raw
        cache = instance.__dict__.setdefault("_zt_plain", {})
        name = self.field.attname
        if name not in cache:
            try:
                cache[name] = crypto.decrypt(raw)
            except crypto.DecryptionError:
                raise TokenDecryptionError(instance.pk, name) from None
        return cache[name]

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__.get("_zt_plain", {}).pop(self.field.attname, None)
        instance.__dict__[self.field.attname] = "" if value is None else value


class EncryptedTextField(models.TextField):
    """A text column stored as Fernet ciphertext, with an optional checksum sibling column."""

    descriptor_class = _EncryptedAttribute

    def __init__(self, *args: Any, checksum_field: str | None = None, **kwargs: Any) -> None:
        self.checksum_field = checksum_field
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.checksum_field:
            kwargs["checksum_field"] = self.checksum_field
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return Ciphertext(value) if value else ""

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        raw = model_instance.__dict__.get(self.attname, "")
        if isinstance(raw, Ciphertext) or not raw:
            if not raw and self.checksum_field:
                setattr(model_instance, self.checksum_field, "")
            return str(raw)
        if self.checksum_field:
            setattr(model_instance, self.checksum_field, crypto.checksum(raw))
        return crypto.encrypt(str(raw))


class ZohoTokenQuerySet(models.QuerySet):
    def for_tenant(self, tenant: str | None) -> ZohoTokenQuerySet:
        return self.filter(tenant=tenant or "")

    def by_access_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(access_token_checksum=crypto.checksum(value))

    def by_refresh_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(refresh_token_checksum=crypto.checksum(value))

    def by_grant_token(self, value: str) -> ZohoTokenQuerySet:
        return self.filter(grant_token_checksum=crypto.checksum(value))

    def invalid(self) -> ZohoTokenQuerySet:
        return self.exclude(invalid_reason="")


class ZohoToken(models.Model):
    """One Zoho OAuth connection. Secrets are encrypted; ``str``/``repr`` never show them."""

    STATUS_ACTIVE = "active"
    STATUS_EXPIRING = "expiring"
    STATUS_EXPIRED = "expired"
    STATUS_INVALID = "invalid"
    STATUS_CHOICES = [
        (STATUS_ACTIVE, _("active")),
        (STATUS_EXPIRING, _("expiring soon")),
        (STATUS_EXPIRED, _("access token expired (refreshable)")),
        (STATUS_INVALID, _("invalid")),
    ]

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
    invalid_reason = models.CharField(
        _("invalid reason"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Set when Zoho rejected the refresh token (e.g. invalid_code)."),
    )
    invalidated_at = models.DateTimeField(_("invalidated at"), null=True, blank=True)
    # Compare-and-set lease that makes exactly one worker refresh a token (see refresh.py).
    refresh_lease_until = models.BigIntegerField(null=True, blank=True, editable=False)
    refresh_lease_owner = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ZohoTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("Zoho token")
        verbose_name_plural = _("Zoho tokens")
        ordering = ["tenant", "user_name", "id"]
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

    def __repr__(self) -> str:
        return (
            f"<ZohoToken id={self.pk!r} tenant={self.tenant!r} user_name={self.user_name!r} "
            f"expiry_time={self.expiry_time!r}>"
        )

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

    def seconds_left(self, now_ms: int | None = None) -> float | None:
        if self.expiry_time is None:
            return None
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return (self.expiry_time - now_ms) / 1000

    def status(self, ahead_seconds: int | None = None) -> str:
        """active / expiring / expired / invalid, without decrypting anything."""
        from zoho_tokens.conf import zoho_settings

        if self.invalid_reason:
            return self.STATUS_INVALID
        left = self.seconds_left()
        ahead = zoho_settings.REFRESH_AHEAD_SECONDS if ahead_seconds is None else ahead_seconds
        if left is None or left <= 0:
            return self.STATUS_EXPIRED if self.has_refresh_token else self.STATUS_INVALID
        if left <= max(ahead, 300):
            return self.STATUS_EXPIRING
        return self.STATUS_ACTIVE

    def masked(self, field: str) -> str:
        """A secret field shown as ``1000.…3f9a``; ``(unreadable)`` when it cannot decrypt."""
        try:
            return crypto.mask(getattr(self, field))
        except TokenDecryptionError:
            return "(unreadable: key missing)"


class TokenAuditEvent(models.Model):
    """Who did what to which Zoho connection. Never holds a secret."""

    SOURCE_CHOICES = [
        ("sdk", _("SDK")),
        ("admin", _("admin")),
        ("command", _("command")),
        ("web", _("web")),
    ]

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=32, db_index=True)
    token_id = models.CharField(_("token id"), max_length=64, blank=True, default="", db_index=True)
    user_name = models.CharField(_("user name"), max_length=255, blank=True, default="")
    tenant = models.CharField(_("tenant"), max_length=64, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=16, choices=SOURCE_CHOICES, default="sdk")
    outcome = models.CharField(_("outcome"), max_length=32, blank=True, default="ok")
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Zoho token audit event")
        verbose_name_plural = _("Zoho token audit events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.user_name or self.token_id} ({self.source})"
