"""Unit tests of ``zoho_tokens.crypto``: masking, checksums, encryption at rest, key rotation.

No database: values only. The store-level behaviour (nothing in clear in the table, rotation
of every row, a killed rotation) is in ``test_secrets.py``.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.fernet import Fernet

from zoho_tokens import crypto
from zoho_tokens.crypto import DecryptionError

ZOHO_TOKEN = "1000.6f1e2d3c4b5a69788796a5b4c3d2e1f0.0a1b2c3d4e5f60718293a4b5c6d73f9a"


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    """``keys(k1, k2, ...)`` sets ENCRYPTION_KEYS (the first one encrypts)."""

    def use(*values: str) -> None:
        settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": list(values)}

    return use


# -- mask -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (ZOHO_TOKEN, "1000.…3f9a"),  # Zoho's "1000." prefix is kept with its dot
        ("abcdefghijklmnopqrstuvwxyz", "abcd…wxyz"),  # no dot at [4]: four characters
        ("1234567890123", "1234…0123"),  # 13 characters: long enough for head and tail
        ("123456789012", "…12"),  # 12 or fewer: only the last two
        ("12345", "…45"),
        ("1234", "…"),  # 4 or fewer: nothing at all
        ("x", "…"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_mask_shows_only_a_head_and_tail(value, shown):
    assert crypto.mask(value) == shown


def test_mask_never_shows_more_than_nine_characters_of_a_secret():
    for length in range(1, 200):
        value = "".join(chr(ord("a") + i % 26) for i in range(length))
        masked = crypto.mask(value)
        assert len(masked.replace("…", "")) <= 9, (length, masked)
        if length > 12:
            assert value[5:-4] not in masked


# -- checksum ---------------------------------------------------------------------------------


def test_checksum_is_sha256_hex_of_the_token():
    assert crypto.checksum("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert crypto.checksum(ZOHO_TOKEN) == hashlib.sha256(ZOHO_TOKEN.encode()).hexdigest()
    assert crypto.checksum("ünï") == hashlib.sha256("ünï".encode()).hexdigest()


def test_no_token_has_an_empty_checksum():
    assert crypto.checksum(None) == ""
    assert crypto.checksum("") == ""


def test_checksum_does_not_depend_on_the_keys(keys):
    """Lookups by checksum must survive a key rotation."""
    keys(new_key())
    before = crypto.checksum(ZOHO_TOKEN)
    keys(new_key())
    assert crypto.checksum(ZOHO_TOKEN) == before


# -- encrypt / decrypt ------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [ZOHO_TOKEN, "x", "ünïcødé-用户", "a" * 5000, " "])
def test_round_trip(keys, plaintext):
    keys(new_key())
    ciphertext = crypto.encrypt(plaintext)
    assert ciphertext.startswith(crypto.PREFIX)
    assert plaintext not in ciphertext[len(crypto.PREFIX) :] or len(plaintext) == 1
    assert crypto.is_encrypted(ciphertext)
    assert crypto.decrypt(ciphertext) == plaintext


def test_each_encryption_is_different(keys):
    """Fernet's random IV: equal tokens do not give equal ciphertexts (no equality leak)."""
    keys(new_key())
    assert crypto.encrypt(ZOHO_TOKEN) != crypto.encrypt(ZOHO_TOKEN)


def test_is_encrypted_only_for_the_prefixed_format():
    assert not crypto.is_encrypted(ZOHO_TOKEN)
    assert not crypto.is_encrypted("")
    assert not crypto.is_encrypted(None)
    assert crypto.is_encrypted(crypto.PREFIX + "anything")


def test_first_key_encrypts_and_every_key_decrypts(keys):
    first, second = new_key(), new_key()
    keys(second)
    by_second = crypto.encrypt("old")
    keys(first, second)
    by_first = crypto.encrypt("new")
    assert crypto.decrypt(by_second) == "old"  # an older key still decrypts
    assert crypto.decrypt(by_first) == "new"
    keys(first)
    assert crypto.decrypt(by_first) == "new"  # it was the first key that encrypted
    with pytest.raises(DecryptionError):
        crypto.decrypt(by_second)


def test_keys_may_come_as_one_comma_separated_string(keys, settings):
    first, second = new_key(), new_key()
    keys(second)
    old = crypto.encrypt("old")
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": f" {first} , {second} "}
    assert crypto.decrypt(old) == "old"
    new = crypto.encrypt("new")
    keys(first)
    assert crypto.decrypt(new) == "new"


def test_without_a_key_one_is_derived_from_secret_key(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "one"
    ciphertext = crypto.encrypt("x")
    assert crypto.primary_key_id() == crypto.fingerprint(crypto.derived_key())
    assert crypto.derived_key_ids()[0] == crypto.primary_key_id()
    assert crypto.decrypt(ciphertext) == "x"
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [crypto.derived_key()]}
    assert crypto.decrypt(ciphertext) == "x"  # the derived key is a plain Fernet key


# -- refused values ---------------------------------------------------------------------------


def test_a_tampered_ciphertext_is_refused(keys):
    keys(new_key())
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    body = ciphertext[len(crypto.PREFIX) :]
    for position in (0, len(body) // 2, len(body) - 5):
        flipped = "A" if body[position] != "A" else "B"
        tampered = crypto.PREFIX + body[:position] + flipped + body[position + 1 :]
        with pytest.raises(DecryptionError, match="no configured key decrypts"):
            crypto.decrypt(tampered)
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext[:-10])  # truncated
    assert crypto.decrypt(ciphertext) == ZOHO_TOKEN  # the good one is not poisoned


def test_a_value_without_the_prefix_is_not_decrypted(keys):
    keys(new_key())
    body = crypto.encrypt("x")[len(crypto.PREFIX) :]
    for value in (ZOHO_TOKEN, body, ""):
        with pytest.raises(DecryptionError, match="not in the encrypted format"):
            crypto.decrypt(value)
        with pytest.raises(DecryptionError, match="not in the encrypted format"):
            crypto.rotate(value)


def test_a_decryption_error_says_nothing_of_the_value(keys):
    keys(new_key())
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    keys(new_key())
    with pytest.raises(DecryptionError) as info:
        crypto.decrypt(ciphertext)
    assert ZOHO_TOKEN not in str(info.value)
    assert ciphertext[len(crypto.PREFIX) :] not in str(info.value)


# -- rotate -----------------------------------------------------------------------------------


def test_rotate_re_encrypts_with_the_first_key(keys):
    old, new = new_key(), new_key()
    keys(old)
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    keys(new, old)
    rotated = crypto.rotate(ciphertext)
    assert rotated != ciphertext and rotated.startswith(crypto.PREFIX)
    keys(new)  # the old key is gone
    assert crypto.decrypt(rotated) == ZOHO_TOKEN
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext)
    assert crypto.decrypt(crypto.rotate(rotated)) == ZOHO_TOKEN  # rotating again is harmless


def test_rotate_refuses_a_value_no_key_decrypts(keys):
    keys(new_key())
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    keys(new_key())
    with pytest.raises(DecryptionError, match="no configured key decrypts"):
        crypto.rotate(ciphertext)


# -- key changes reset the cached key set and the decrypted values ----------------------------


def test_a_key_change_forgets_values_decrypted_with_the_old_keys(keys):
    """decrypt() memoises; after a key change a memoised value must not decrypt any more."""
    keys(new_key())
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    assert crypto.decrypt(ciphertext) == ZOHO_TOKEN  # now memoised
    keys(new_key())
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext)


def test_a_secret_key_change_resets_the_derived_key(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "one"
    ciphertext = crypto.encrypt("x")
    assert crypto.decrypt(ciphertext) == "x"
    settings.SECRET_KEY = "two"
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext)
    settings.SECRET_KEY = "one"
    assert crypto.decrypt(ciphertext) == "x"


def test_reset_keys_rebuilds_from_the_current_settings(keys, monkeypatch):
    """Without a setting_changed signal (settings edited in place) reset_keys() is the way."""
    first, second = new_key(), new_key()
    keys(first)
    ciphertext = crypto.encrypt(ZOHO_TOKEN)
    assert crypto.decrypt(ciphertext) == ZOHO_TOKEN
    monkeypatch.setattr(crypto.zoho_settings, "ENCRYPTION_KEYS", [second])
    assert crypto.decrypt(ciphertext) == ZOHO_TOKEN  # still the cached key set
    crypto.reset_keys()
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext)


def test_a_setting_set_on_the_settings_object_does_not_outlive_a_reload():
    """A value set on ``zoho_settings`` from outside (monkeypatch restores one after the
    autouse reload) once leaked ENCRYPTION_KEYS into the next test."""
    crypto.zoho_settings.ENCRYPTION_KEYS = [new_key()]  # type: ignore[attr-defined]
    crypto.zoho_settings.reload()
    assert "ENCRYPTION_KEYS" not in vars(crypto.zoho_settings)
