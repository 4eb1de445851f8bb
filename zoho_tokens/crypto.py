"""Encryption at rest (Fernet/MultiFernet), key fingerprints and lookup checksums.

Why: a database backup or replica must not let its reader act as every connected Zoho user.
Tokens are encrypted with authenticated encryption; lookups use a SHA-256 checksum column
(the approach of django-oauth-toolkit's ``token_checksum``), so nothing is ever decrypted to
find a row.

Keys, in the order they are tried:

1. ``ZOHO_TOKENS["ENCRYPTION_KEYS"]``; the first one encrypts.
2. Keys derived from ``SECRET_KEY`` and each of ``SECRET_KEY_FALLBACKS`` with HKDF-SHA256
   (fixed salt and info); the one from ``SECRET_KEY`` encrypts when no key is configured.
3. The same secrets through the derivation of versions before the KDF (SHA-256 of a prefix
   and the secret), so values written then stay readable.

So setting a dedicated key, or rotating ``SECRET_KEY`` with the old one in
``SECRET_KEY_FALLBACKS``, never locks a token out; ``rotate-keys`` then moves every row to the
first key. Each row records the fingerprint of the key that encrypted it (``key_id``), which
is how the status "unreadable" and the check for rows on a derived key work without
decrypting anything. A ``django-insecure-`` ``SECRET_KEY`` (Django's public placeholder) is
never used to encrypt unless ``DEBUG`` is on.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables

from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import ConfigurationError, DecryptionError

__all__ = [
    "DecryptionError",
    "checksum",
    "decrypt",
    "derived_key",
    "encrypt",
    "fingerprint",
    "key_ids",
    "mask",
    "primary_key_id",
    "reset_keys",
    "rotate",
]

PREFIX = "fernet:"
KDF_SALT = b"zoho_tokens"
KDF_INFO = b"zoho_tokens.crypto: Fernet key for stored Zoho tokens, v2"
LEGACY_PREFIX = b"zoho_tokens.crypto:"
INSECURE_PREFIX = "django-insecure-"
FINGERPRINT_LENGTH = 16

_lock = threading.Lock()


@dataclass(frozen=True)
class Key:
    """One Fernet key in force. ``repr`` shows the fingerprint, never the key."""

    key_id: str
    fernet: Fernet
    derived: bool  # from SECRET_KEY or a fallback, not from ENCRYPTION_KEYS

    def __repr__(self) -> str:
        return f"<Key {self.key_id}{' (derived)' if self.derived else ''}>"


@dataclass(frozen=True)
class KeySet:
    keys: tuple[Key, ...]  # the first one encrypts
    multi: MultiFernet

    @property
    def primary(self) -> Key:
        return self.keys[0]


_keyset: KeySet | None = None


def fingerprint(key: str) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of the key (not reversible)."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_LENGTH]


@sensitive_variables("secret")
def derived_key(secret: str | None = None) -> str:
    """The Fernet key derived from ``secret`` (default ``SECRET_KEY``) with HKDF-SHA256."""
    secret = secret_key() if secret is None else secret
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=KDF_SALT, info=KDF_INFO).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(raw).decode()


@sensitive_variables("secret")
def legacy_derived_key(secret: str) -> str:
    """The key versions before the KDF derived (read-only: values they wrote stay readable)."""
    digest = hashlib.sha256(LEGACY_PREFIX + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def secret_key() -> str:
    try:
        return str(settings.SECRET_KEY or "")
    except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
        return ""


def _secrets() -> list[str]:
    """``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``: what keys may be derived from."""
    fallbacks = [str(s) for s in getattr(settings, "SECRET_KEY_FALLBACKS", None) or [] if s]
    return [s for s in [secret_key(), *fallbacks] if s]


def insecure_secret_key() -> bool:
    """``SECRET_KEY`` is Django's public ``django-insecure-`` placeholder and DEBUG is off."""
    return secret_key().startswith(INSECURE_PREFIX) and not settings.DEBUG


def _refusal() -> str:
    """Why no encryption key can be used now ("" when one can)."""
    if zoho_settings.ENCRYPTION_KEYS:
        return ""
    if not secret_key():
        return (
            "no encryption key: set ZOHO_TOKENS['ENCRYPTION_KEYS'] (env "
            "ZOHO_TOKENS_ENCRYPTION_KEYS) to a Fernet key, or set SECRET_KEY"
        )
    if insecure_secret_key():
        return (
            "refusing to encrypt Zoho tokens with a key derived from a 'django-insecure-' "
            "SECRET_KEY (a public placeholder) with DEBUG off: set ZOHO_TOKENS['ENCRYPTION_KEYS'] "
            "(env ZOHO_TOKENS_ENCRYPTION_KEYS) to a Fernet key"
        )
    return ""


@sensitive_variables("configured", "secrets", "material")
def _build() -> KeySet:
    refusal = _refusal()
    if refusal:
        raise ConfigurationError(refusal)
    configured = list(zoho_settings.ENCRYPTION_KEYS)
    secrets = _secrets()
    material: list[tuple[str, bool]] = [(key, False) for key in configured]
    material += [(derived_key(s), True) for s in secrets]
    material += [(legacy_derived_key(s), True) for s in secrets]
    keys: list[Key] = []
    for key, derived in material:
        key_id = fingerprint(key)
        if any(k.key_id == key_id for k in keys):
            continue
        try:
            fernet = Fernet(key.encode())
        except (ValueError, binascii.Error):
            raise ConfigurationError(
                f"ZOHO_TOKENS['ENCRYPTION_KEYS'] holds a value that is not a Fernet key "
                f"(key id {key_id}); run 'manage.py check'"
            ) from None
        keys.append(Key(key_id, fernet, derived))
    return KeySet(tuple(keys), MultiFernet([k.fernet for k in keys]))


def keyset() -> KeySet:
    """The keys in force, built once; ``reset_keys()`` (on ``setting_changed``) rebuilds them."""
    global _keyset
    current = _keyset
    if current is not None:
        return current
    with _lock:
        if _keyset is None:
            _keyset = _build()
            _decrypt_cached.cache_clear()
            _encrypt_shared.cache_clear()
        return _keyset


def reset_keys() -> None:
    """Forget the cached key set and decrypted values (called when settings change)."""
    global _keyset
    with _lock:
        _keyset = None
    _decrypt_cached.cache_clear()
    _encrypt_shared.cache_clear()


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ZOHO_TOKENS", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "DEBUG"):
        reset_keys()


def primary_key_id() -> str:
    """Fingerprint of the key that encrypts new values."""
    return keyset().primary.key_id


def key_ids() -> list[str]:
    """Fingerprints of every key that can decrypt (the first one encrypts)."""
    return [k.key_id for k in keyset().keys]


def derived_key_ids() -> list[str]:
    """Fingerprints of the keys in force that are derived from SECRET_KEY or its fallbacks."""
    return [k.key_id for k in keyset().keys if k.derived]


@sensitive_variables("plaintext")
def encrypt(plaintext: str, *, shared: bool = False) -> str:
    """Ciphertext of ``plaintext`` under the first key.

    ``shared``: equal plaintexts get one ciphertext per process and key. For a value that many
    rows hold alike (an app's client secret, the same for all its tenants, and whose equality
    the clear ``client_id`` column already tells), so that the decryption memo holds one entry
    for all of them and a lookup on a cold memo decrypts one value less.
    """
    if shared:
        return _encrypt_shared(keyset().primary.key_id, plaintext)
    return PREFIX + keyset().multi.encrypt(plaintext.encode()).decode()


@functools.lru_cache(maxsize=64)
def _encrypt_shared(key_id: str, plaintext: str) -> str:
    # ``key_id`` is part of the memo key: a new first key gives new ciphertexts.
    return encrypt(plaintext)


def decrypt(ciphertext: str) -> str:
    """Plaintext of a stored value.

    Fernet costs ~17 µs per value and ``find_token`` runs before every SDK call, so results
    are memoised per exact ciphertext (bounded LRU, cleared when the keys change). A
    ciphertext is immutable and authenticated, so a hit can only return what a full
    decryption with the current keys returned; tampered data is a miss and fails as usual.
    """
    if not ciphertext.startswith(PREFIX):
        raise DecryptionError("value is not in the encrypted format")
    keyset()  # build the key set (clearing the memo) if settings changed
    result = _decrypt_cached(str(ciphertext))
    if result is None:
        raise DecryptionError("no configured key decrypts this value")
    return result


@functools.lru_cache(maxsize=4096)
def _decrypt_cached(ciphertext: str) -> str | None:
    # None, not an exception: an exception raised here would chain the cryptography error
    # (and its frames) into whatever the caller raises.
    try:
        return keyset().multi.decrypt(ciphertext[len(PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError):
        return None


def key_id_of(ciphertext: str) -> str | None:
    """Fingerprint of the key in force that decrypts ``ciphertext``; None when none does."""
    if not ciphertext.startswith(PREFIX):
        return None
    token = ciphertext[len(PREFIX) :].encode()
    for key in keyset().keys:
        try:
            key.fernet.decrypt(token)
        except (InvalidToken, ValueError):
            continue
        return key.key_id
    return None


@sensitive_variables("plain")
def rotate(ciphertext: str, *, shared: bool = False) -> str:
    """Re-encrypt with the first key: decrypt with any key in force, encrypt with the first.

    ``shared`` as in ``encrypt``.
    """
    if not ciphertext.startswith(PREFIX):
        raise DecryptionError("value is not in the encrypted format")
    return encrypt(decrypt(ciphertext), shared=shared)


def is_encrypted(value: str | None) -> bool:
    """Whether ``value`` carries our ciphertext prefix (it may still fail to decrypt)."""
    return bool(value) and str(value).startswith(PREFIX)


def is_ciphertext(value: str | None) -> bool:
    """Whether ``value`` is shaped like our ciphertext: ``fernet:`` and a well-formed token.

    Stricter than ``is_encrypted``: the model field uses it to decide whether a value it is
    given must still be encrypted, so a clear-text value can never pass for ciphertext.
    """
    if not is_encrypted(value):
        return False
    body = str(value)[len(PREFIX) :]
    try:
        data = base64.urlsafe_b64decode(body.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return False
    # version byte, 8-byte timestamp, 16-byte IV, AES blocks, 32-byte HMAC
    return len(data) >= 73 and data[0] == 0x80 and (len(data) - 57) % 16 == 0


def checksum(value: str | None) -> str:
    """SHA-256 hex of a token, for indexed lookups; ``""`` for no token."""
    if not value:
        return ""
    return hashlib.sha256(value.encode()).hexdigest()


def mask(value: str | None) -> str:
    """Show a secret the way operators may see it: ``1000.…3f9a``."""
    if not value:
        return "—"
    if len(value) <= 12:
        return "…" + value[-2:] if len(value) > 4 else "…"
    head = value[:5] if value[4] == "." else value[:4]
    return f"{head}…{value[-4:]}"
