"""Key changes never lock users out (finding 4).

A project that started without ``ENCRYPTION_KEYS`` (key derived from ``SECRET_KEY``) and then
does what check W001 says, or rotates ``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS``, keeps
every token readable; ``rotate-keys`` moves them to the first configured key; a system check
counts what still depends on a derived key; ``key_id`` says which key encrypted each row.
"""

from __future__ import annotations

import base64
import hashlib
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.management import call_command
from django.db import connection
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from zoho_tokens import checks, crypto, keys
from zoho_tokens.checks import CheckId
from zoho_tokens.exceptions import ConfigurationError, TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

SECRETS = ("client_secret", "refresh_token", "access_token", "grant_token")


def plain(row: ZohoToken) -> tuple[str, ...]:
    return tuple(getattr(row, name) for name in SECRETS)


def all_readable(rows) -> None:
    for row in rows:
        assert plain(ZohoToken.objects.get(pk=row.pk)) == plain(row)


def rotate() -> str:
    out = StringIO()
    call_command("zoho_tokens", "rotate-keys", stdout=out)
    return out.getvalue()


def derived_check():
    return [
        m
        for m in checks.check_rows_on_derived_keys(databases=["default"])
        if m.id == CheckId.ROWS_ON_DERIVED_KEY
    ]


def fernet_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def test_the_derived_key_comes_from_hkdf_sha256():
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=crypto.KDF_SALT, info=crypto.KDF_INFO
    ).derive(b"some secret key")
    assert crypto.derived_key("some secret key") == fernet_key(expected)
    assert crypto.legacy_derived_key("some secret key") == fernet_key(
        hashlib.sha256(b"zoho_tokens.crypto:some secret key").digest()
    )


def test_key_id_is_a_short_fingerprint():
    key = Fernet.generate_key().decode()
    assert crypto.fingerprint(key) == hashlib.sha256(key.encode()).hexdigest()[:16]


@pytest.mark.django_db
def test_setting_a_dedicated_key_keeps_derived_rows_readable(settings):
    """What W001 says to do: before, it made every stored token unreadable."""
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "first-secret-key-of-the-project"
    rows = ZohoTokenFactory.create_batch(4, grant_token="1000.grant.g")
    derived_id = crypto.fingerprint(crypto.derived_key(settings.SECRET_KEY))
    assert {r.key_id for r in ZohoToken.objects.all()} == {derived_id}
    assert derived_check() == []  # nothing configured yet: W001/E002 speak for it

    new = Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [new]}
    all_readable(rows)
    found = derived_check()
    assert len(found) == 1
    assert "4 Zoho tokens" in found[0].msg
    assert "python manage.py zoho_tokens rotate-keys" in found[0].hint

    assert "4 tokens checked, 16 values re-encrypted" in rotate()
    assert {r.key_id for r in ZohoToken.objects.all()} == {crypto.fingerprint(new)}
    assert derived_check() == []
    settings.SECRET_KEY = "a-completely-different-secret-key"
    all_readable(rows)


@pytest.mark.django_db
def test_rows_written_with_the_old_derivation_stay_readable(settings):
    """Values written before the KDF (SHA-256 of a prefix and SECRET_KEY) still decrypt."""
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "secret-key-of-an-existing-install"
    row = ZohoTokenFactory()
    values = plain(row)
    old = Fernet(crypto.legacy_derived_key(settings.SECRET_KEY).encode())
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zoho_tokens_zohotoken SET client_secret = %s, access_token = %s, key_id = '' "
            "WHERE id = %s",
            [
                crypto.PREFIX + old.encrypt(values[0].encode()).decode(),
                crypto.PREFIX + old.encrypt(values[2].encode()).decode(),
                row.pk,
            ],
        )
    assert plain(ZohoToken.objects.get(pk=row.pk)) == values
    # The migration's fill names the old derived key.
    assert keys.fill_key_ids(ZohoToken) == 1
    assert ZohoToken.objects.get(pk=row.pk).key_id == crypto.fingerprint(
        crypto.legacy_derived_key(settings.SECRET_KEY)
    )
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    assert len(derived_check()) == 1
    rotate()
    settings.SECRET_KEY = "rotated-away"
    assert plain(ZohoToken.objects.get(pk=row.pk)) == values


@pytest.mark.django_db
def test_secret_key_fallbacks_decrypt_and_rotate_keys_moves_rows_off_them(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "old-secret-key-0123456789"
    rows = ZohoTokenFactory.create_batch(2)
    settings.SECRET_KEY = "new-secret-key-0123456789"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-0123456789"]
    all_readable(rows)
    rotate()
    settings.SECRET_KEY_FALLBACKS = []
    all_readable(rows)
    assert {r.key_id for r in ZohoToken.objects.all()} == {
        crypto.fingerprint(crypto.derived_key("new-secret-key-0123456789"))
    }


@pytest.mark.django_db
def test_a_row_saved_under_a_new_primary_key_is_re_encrypted_whole(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [old]}
    row = ZohoTokenFactory(grant_token="1000.grant.whole")
    values = plain(row)
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [new, old]}
    row = ZohoToken.objects.get(pk=row.pk)
    row.access_token = "1000.new.access"
    row.save()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [new]}
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert plain(fresh) == (values[0], values[1], "1000.new.access", values[3])
    assert fresh.key_id == crypto.fingerprint(new)


@pytest.mark.django_db
def test_a_save_through_the_store_re_encrypts_the_whole_row(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [old]}
    row = ZohoTokenFactory(user_name="whole@example.com:1")
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [new, old]}
    token = OAuthToken(user_signature=UserSignature("whole@example.com:1"))
    token.set_access_token("1000.refreshed.access")
    DjangoTokenStore(refresh_ahead=False).save_token(token)
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [new]}
    fresh = ZohoToken.objects.get(pk=row.pk)
    assert (fresh.client_secret, fresh.refresh_token) == (row.client_secret, row.refresh_token)
    assert fresh.key_id == crypto.fingerprint(new)


def test_insecure_secret_key_is_refused_without_debug(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "django-insecure-a-public-demo-key-0123456789"
    settings.DEBUG = False
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEYS"):
        crypto.encrypt("x")
    assert CheckId.INSECURE_SECRET_KEY in {m.id for m in checks.check_encryption_keys()}

    settings.DEBUG = True  # local development: allowed, W001 still says to set a key
    assert crypto.decrypt(crypto.encrypt("x")) == "x"
    assert CheckId.INSECURE_SECRET_KEY not in {m.id for m in checks.check_encryption_keys()}


@pytest.mark.django_db
def test_insecure_secret_key_error_at_use_is_one_clear_line(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "django-insecure-a-public-demo-key-0123456789"
    settings.DEBUG = False
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="1000.r")
    token.set_user_signature(UserSignature("insecure@example.com:1"))
    with pytest.raises(TokenStoreError) as info:
        DjangoTokenStore().save_token(token)
    assert "django-insecure-" in str(info.value)
    assert "ENCRYPTION_KEYS" in str(info.value)
    assert not ZohoToken.objects.exists()


@pytest.mark.django_db
def test_an_insecure_secret_key_still_decrypts_what_it_wrote_once_a_key_is_set(settings):
    """Refusing it for new values must not lock out the rows it already encrypted."""
    settings.ZOHO_TOKENS = {}
    settings.DEBUG = True
    settings.SECRET_KEY = "django-insecure-a-public-demo-key-0123456789"
    row = ZohoTokenFactory()
    settings.DEBUG = False
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    all_readable([row])
    assert len(derived_check()) == 1
    rotate()
    assert derived_check() == []
