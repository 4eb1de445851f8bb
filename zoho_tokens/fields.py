"""Encrypted columns: how a secret is stored, read back, and serialised.

A secret column holds Fernet ciphertext (``Ciphertext``); reading the model attribute
decrypts it lazily, once per instance, and clear text assigned by code is sealed (encrypted,
checksummed, tagged with its key id) before any path writes or shows it: ``save()``,
``update()``, ``bulk_update()``, ``bulk_create()``, raw saves, ``dumpdata``, serializers,
``pickle``, ``rotate-keys``, ``import``. Every one of them calls ``EncryptedTextField.seal``
(the one place clear text becomes ciphertext, checksum and key id) and every read calls
``open_value`` (the one place ciphertext becomes clear text).
Kept apart from ``models`` because it is the one place that decides what leaves the process
in clear, and that is reviewed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from zoho_tokens import crypto
from zoho_tokens.exceptions import DecryptionError

#: The encrypted columns, in model order.
SECRET_FIELDS = ("client_secret", "refresh_token", "access_token", "grant_token")
#: Secrets that many rows hold alike: equal values share one ciphertext (``crypto.encrypt``).
SHARED_CIPHERTEXT = frozenset({"client_secret"})


class Ciphertext(str):
    """A column value as stored: encrypted. Anything else a secret attribute holds is clear
    text that ``save()`` (or, failing that, the field) encrypts before it reaches the database."""


@dataclass(frozen=True)
class Sealed:
    """What a secret column stores for one clear value (``EncryptedTextField.seal``)."""

    ciphertext: str  # "" for no value
    checksum: str | None  # None: the field declares no checksum column
    key_id: str  # the key that encrypted it; "" for no value


def open_value(raw: str) -> str | None:
    """The clear text of a stored value; None when no key in force decrypts it.

    Every read of a secret column goes through here (model attributes, the store's rows).
    """
    if not raw:
        return ""
    try:
        return crypto.decrypt(raw)
    except DecryptionError:
        return None


def opened(owner: Any, name: str, raw: str) -> str:
    """``open_value`` or ``DecryptionError`` naming the row and column (never the value)."""
    plain = open_value(raw)
    if plain is None:
        # Raised outside any ``except``: no chained error, no plaintext in this frame.
        raise DecryptionError(token_id=owner, field=name)
    return plain


def _plaintext_or_none(values: dict[str, Any], name: str, raw: Ciphertext) -> str | None:
    cache = values.get("_zt_plain")
    if cache is not None and name in cache:
        return cache[name]
    plain = open_value(raw)
    if plain is not None:
        values.setdefault("_zt_plain", {})[name] = plain
    return plain


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: decrypt on first read, keep plaintext assigned by code as is.

    While Django writes a row without ``save()`` logic (``loaddata``'s raw save,
    ``bulk_update``), the instance carries ``_zt_raw`` and reads give the stored ciphertext,
    so what is written is the ciphertext, never the plaintext.
    """

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        raw = super().__get__(instance, cls)
        if not isinstance(raw, Ciphertext) or instance.__dict__.get("_zt_raw"):
            return raw
        name = self.field.attname
        plain = _plaintext_or_none(instance.__dict__, name, raw)
        return opened(instance.pk, name, raw) if plain is None else plain

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__.get("_zt_plain", {}).pop(self.field.attname, None)
        instance.__dict__[self.field.attname] = "" if value is None else value


class EncryptedTextField(models.TextField):
    """A text column stored as Fernet ciphertext, with an optional checksum sibling column.

    Every way Django turns a value into SQL or into a serialised form goes through here, so
    no path writes or shows clear text: ``pre_save`` (saves, ``bulk_create``),
    ``get_prep_value`` (``update()``, ``bulk_update()``, raw saves), ``value_from_object``
    (``dumpdata``, serializers, ``model_to_dict``); ``to_python`` turns a serialised
    ciphertext back into one (``loaddata``).
    """

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

    def to_python(self, value: Any) -> Any:
        if (
            isinstance(value, str)
            and not isinstance(value, Ciphertext)
            and crypto.is_ciphertext(value)
        ):
            return Ciphertext(value)
        return value

    def seal(self, plain: str | None) -> Sealed:
        """The one place clear text becomes ciphertext, checksum and key id.

        ``client_secret`` (``SHARED_CIPHERTEXT``) is the same for many rows: equal values
        share one ciphertext. The checksum is there when the field declares its column.
        """
        plain = plain or ""
        checksum = crypto.checksum(plain) if self.checksum_field else None
        if not plain:
            return Sealed("", checksum, "")
        shared = self.attname in SHARED_CIPHERTEXT
        return Sealed(crypto.encrypt(plain, shared=shared), checksum, crypto.primary_key_id())

    def columns(self, plain: str | None) -> dict[str, str]:
        """``seal(plain)`` as the columns an ``update()`` writes (value, checksum)."""
        sealed = self.seal(plain)
        out = {self.attname: sealed.ciphertext}
        if self.checksum_field and sealed.checksum is not None:
            out[self.checksum_field] = sealed.checksum
        return out

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        raw = model_instance.__dict__.get(self.attname, "")
        if isinstance(raw, Ciphertext):
            return str(raw)
        seal(model_instance, [self.attname])
        return str(model_instance.__dict__.get(self.attname, ""))

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value or not isinstance(value, str) or crypto.is_ciphertext(value):
            return value
        return self.seal(value).ciphertext

    def value_from_object(self, obj: Any) -> Any:
        raw = obj.__dict__.get(self.attname, "")
        if not raw or isinstance(raw, Ciphertext):
            return str(raw or "")
        return self.seal(str(raw)).ciphertext

    def value_to_string(self, obj: Any) -> str:
        return str(self.value_from_object(obj))


def secret_field(meta: Any, name: str) -> EncryptedTextField:
    """The encrypted field ``name`` of a model's ``_meta`` (also a migration's historical one)."""
    field = meta.get_field(name)
    if not isinstance(field, EncryptedTextField):
        raise TypeError(f"{name} is not an encrypted column")
    return field


def _has_key_id(meta: Any) -> bool:
    return any(f.attname == "key_id" for f in meta.concrete_fields)


def seal(
    instance: Any,
    names: list[str] | tuple[str, ...],
    *,
    reencrypt: bool = False,
    claim: bool = False,
) -> set[str]:
    """``seal_values`` on a model instance's attributes."""
    return seal_values(instance._meta, instance.__dict__, names, reencrypt=reencrypt, claim=claim)


def seal_values(
    meta: Any,
    values: dict[str, Any],
    names: list[str] | tuple[str, ...],
    *,
    reencrypt: bool = False,
    claim: bool = False,
) -> set[str]:
    """Encrypt the clear text that code assigned to ``instance``'s secret attributes.

    Afterwards the instance holds ``Ciphertext`` (what is saved, pickled and serialised) with
    the plaintext only in its private cache, its checksums match, and ``key_id`` names the
    key. ``reencrypt`` also re-encrypts values stored under another key, and ``claim`` then
    gives the row the first key's id: one row, one key. A value no key decrypts is left as it
    is (and the row keeps its old ``key_id``). Returns the names of the other columns it set.
    ``values`` is an instance's ``__dict__`` or a pickled state.
    """
    changed: set[str] = set()
    whole = claim
    if reencrypt:
        for name in SECRET_FIELDS:
            raw = values.get(name)
            if isinstance(raw, Ciphertext):
                plain = _plaintext_or_none(values, name, raw)
                if plain is None:
                    whole = False
                else:
                    values[name] = plain
    new_key = ""
    for name in names:
        raw = values.get(name, "")
        if isinstance(raw, Ciphertext):
            continue
        plain = "" if raw is None else str(raw)
        field = secret_field(meta, name)
        sealed = field.seal(plain)
        values[name] = Ciphertext(sealed.ciphertext) if sealed.ciphertext else ""
        if plain:
            values.setdefault("_zt_plain", {})[name] = plain
            new_key = sealed.key_id
        if field.checksum_field and sealed.checksum is not None:
            values[field.checksum_field] = sealed.checksum
            changed.add(field.checksum_field)
    if _has_key_id(meta):
        has_secret = any(values.get(name) for name in SECRET_FIELDS)
        if whole:
            key_id = (new_key or crypto.primary_key_id()) if has_secret else ""
        elif new_key and not values.get("key_id"):
            key_id = new_key
        else:
            key_id = values.get("key_id", "")
        if key_id != values.get("key_id"):
            values["key_id"] = key_id
            changed.add("key_id")
    return changed
