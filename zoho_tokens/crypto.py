"""Encryption at rest (Fernet/MultiFernet) and lookup checksums.

Why: a database backup or replica must not let its reader act as every connected Zoho user.
Tokens are encrypted with authenticated encryption; lookups use a SHA-256 checksum column
(the approach of django-oauth-toolkit's ``token_checksum``), so nothing is ever decrypted to
find a row.

The first key of ``ZOHO_TOKENS["ENCRYPTION_KEYS"]`` encrypts, every key decrypts. With no key
configured a key is derived from ``SECRET_KEY`` (system check ``zoho_tokens.W001`` says to set
a dedicated one).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from zoho_tokens.conf import zoho_settings

_lock = threading.Lock()
_fernet: MultiFernet | None = None
_keys_id: tuple[str, ...] | None = None

PREFIX = "fernet:"


class DecryptionError(Exception):
    """A value could not be decrypted with any configured key (or was tampered with)."""


def derived_key() -> str:
    """A Fernet key derived from ``SECRET_KEY``, used only when no key is configured."""
    digest = hashlib.sha256(b"zoho_tokens.crypto:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    """The keys in force, first one encrypting; ``SECRET_KEY``-derived when none is set."""
    keys = zoho_settings.ENCRYPTION_KEYS or []
    if isinstance(keys, str):
        keys = [k for k in (part.strip() for part in keys.split(",")) if k]
    return list(keys) or [derived_key()]


def _multifernet() -> MultiFernet:
    """The key set, built once; ``reset_keys()`` (on ``setting_changed``) rebuilds it."""
    global _fernet, _keys_id
    if _fernet is not None:
        return _fernet
    keys = tuple(configured_keys())
    if _fernet is None or keys != _keys_id:
        with _lock:
            _fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
            _keys_id = keys
        _decrypt_cached.cache_clear()
    return _fernet


def reset_keys() -> None:
    """Forget the cached key set and decrypted values (called when settings change)."""
    global _fernet, _keys_id
    with _lock:
        _fernet = None
        _keys_id = None
    _decrypt_cached.cache_clear()


def encrypt(plaintext: str) -> str:
    return PREFIX + _multifernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Plaintext of a stored value.

    Fernet costs ~17 µs per value and ``find_token`` runs before every SDK call, so results
    are memoised per exact ciphertext (bounded LRU, cleared when the keys change). A
    ciphertext is immutable and authenticated, so a hit can only return what a full
    decryption with the current keys returned; tampered data is a miss and fails as usual.
    """
    if not ciphertext.startswith(PREFIX):
        raise DecryptionError("value is not in the encrypted format")
    _multifernet()  # build the key set (clearing the memo) if settings changed
    return _decrypt_cached(str(ciphertext))


@functools.lru_cache(maxsize=4096)
def _decrypt_cached(ciphertext: str) -> str:
    try:
        return _multifernet().decrypt(ciphertext[len(PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError("no configured key decrypts this value") from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first key (MultiFernet.rotate: decrypt with any, encrypt with first)."""
    if not ciphertext.startswith(PREFIX):
        raise DecryptionError("value is not in the encrypted format")
    try:
        return PREFIX + _multifernet().rotate(ciphertext[len(PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError("no configured key decrypts this value") from exc


def is_encrypted(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


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
