"""Secrets at rest: nothing in clear in the database, checksum lookups, rotation, wrong keys."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from tests.helpers import ROOT, child_env, command_output, crm_users
from zoho_tokens import crypto
from zoho_tokens.keys import encrypt_cleartext_rows
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

SECRET_COLUMNS = ("client_secret", "refresh_token", "access_token", "grant_token")


def raw_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM zoho_tokens_zohotoken")
        return cursor.fetchall()


def raw_text() -> str:
    """Everything the database holds for the token table, as text."""
    return "\n".join(repr(row) for row in raw_rows()) + "\n" + repr(list(_audit_rows()))


def _audit_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM zoho_tokens_tokenauditevent")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_sdk_flow_leaves_no_secret_in_the_database(fake_zoho, init_sdk, zoho_settings_for):
    code = fake_zoho.add_grant(email="sec@example.com", zgid="4242")
    client_secret = "very-secret-client-secret-123"
    init_sdk(OAuthToken(client_id="1000.SEC", client_secret=client_secret, grant_token=code))
    crm_users()
    row = ZohoToken.objects.get()
    secrets = [client_secret, row.refresh_token, row.access_token, code]
    assert all(secrets) and row.grant_token == code

    text = raw_text()
    for secret in secrets:
        assert secret not in text
    assert row.user_name in text  # the rows are really there

    if connection.vendor == "sqlite":
        connection.close()  # flush, then read the file (and its WAL) as bytes
        db_file = Path(connection.settings_dict["NAME"])
        blob = b"".join(p.read_bytes() for p in (db_file, Path(f"{db_file}-wal")) if p.exists())
        assert b"sec@example.com:4242" in blob
        for secret in secrets:
            assert secret.encode() not in blob


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("probe_kwargs", "column"),
    [
        ({"access_token": "ACCESS"}, "access_token_checksum"),
        (
            {"client_id": "c", "client_secret": "s", "refresh_token": "REFRESH"},
            "refresh_token_checksum",
        ),
        ({"client_id": "c", "client_secret": "s", "grant_token": "GRANT"}, "grant_token_checksum"),
    ],
)
def test_lookups_use_the_checksum_column(probe_kwargs, column):
    row = ZohoTokenFactory(grant_token="1000.grant.value")
    values = {"ACCESS": row.access_token, "REFRESH": row.refresh_token, "GRANT": row.grant_token}
    kwargs = {k: values.get(v, v) for k, v in probe_kwargs.items()}
    probe = OAuthToken(**kwargs)
    with CaptureQueriesContext(connection) as queries:
        assert DjangoTokenStore(refresh_ahead=False).find_token(probe) is probe
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert column in sql
    assert crypto.checksum(next(iter(v for k, v in kwargs.items() if k.endswith("token")))) in sql
    for secret in values.values():
        assert secret not in sql
    assert probe.get_id() == row.pk


@pytest.mark.django_db
def test_checksum_columns_are_indexed():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "zoho_tokens_zohotoken")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    for column in ("access_token_checksum", "refresh_token_checksum", "grant_token_checksum"):
        assert (column,) in indexed
    assert ("tenant", "user_name") in indexed


def _keys(settings, *keys):
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": list(keys)}


@pytest.mark.django_db
def test_rotation_moves_every_row_to_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _keys(settings, old)
    rows = ZohoTokenFactory.create_batch(5, grant_token="1000.grant.x")
    plain = {r.pk: (r.client_secret, r.refresh_token, r.access_token) for r in rows}

    _keys(settings, new, old)
    out = _call("rotate-keys", "--batch-size", "2")
    assert "5 tokens checked, 20 values re-encrypted" in out

    _keys(settings, new)
    for row in ZohoToken.objects.all():
        assert (row.client_secret, row.refresh_token, row.access_token) == plain[row.pk]
        assert row.grant_token == "1000.grant.x"
    # Re-running is harmless.
    assert "0 unreadable" in _call("rotate-keys")


def _call(*args) -> str:
    return command_output("zoho_tokens", *args)[0]


@pytest.mark.django_db
def test_interrupted_rotation_leaves_every_row_readable(settings):
    from zoho_tokens import keys

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _keys(settings, old)
    rows = ZohoTokenFactory.create_batch(6)
    _keys(settings, new, old)

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keys.rotate_keys(batch_size=2, progress=stop_after_first_batch)
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).refresh_token == row.refresh_token
    keys.rotate_keys()
    _keys(settings, new)
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).refresh_token == row.refresh_token


@pytest.mark.django_db(transaction=True)
def test_rotation_killed_mid_way_in_another_process(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _keys(settings, old)
    rows = ZohoTokenFactory.create_batch(300)
    env = child_env(None, ZOHO_TOKENS_ENCRYPTION_KEYS=f"{new},{old}")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "zoho_tokens", "rotate-keys", "--batch-size", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    # Kill it once some rows carry the new key and before it finishes.
    new_only = Fernet(new.encode())
    while time.monotonic() < deadline and proc.poll() is None:
        raw = ZohoToken.objects.values_list("refresh_token", flat=True)
        moved = 0
        for value in raw:
            try:
                new_only.decrypt(value[len(crypto.PREFIX) :].encode())
                moved += 1
            except Exception:
                continue
        if moved:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    _keys(settings, new, old)
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).refresh_token == row.refresh_token
    _call("rotate-keys")
    _keys(settings, new)
    for row in rows:
        assert ZohoToken.objects.get(pk=row.pk).refresh_token == row.refresh_token


@pytest.mark.django_db
def test_wrong_key_raises_a_clear_sdk_exception_naming_the_token(settings):
    _keys(settings, Fernet.generate_key().decode())
    row = ZohoTokenFactory()
    _keys(settings, Fernet.generate_key().decode())
    store = DjangoTokenStore(refresh_ahead=False)
    for call in (
        lambda: store.find_token_by_id(row.pk),
        lambda: store.find_token(OAuthToken(user_signature=UserSignature(row.user_name))),
        store.get_tokens,
    ):
        with pytest.raises(SDKException) as info:
            call()
        message = str(info.value)
        assert row.pk in message
        assert "ENCRYPTION_KEYS" in message
    assert "(unreadable" in row.__class__.objects.get(pk=row.pk).masked("access_token")


@pytest.mark.django_db
def test_tampered_ciphertext_is_refused():
    row = ZohoTokenFactory()
    raw = ZohoToken.objects.filter(pk=row.pk).values_list("access_token", flat=True).get()
    tampered = raw[:-6] + ("A" if raw[-6] != "A" else "B") + raw[-5:]
    ZohoToken.objects.filter(pk=row.pk).update(access_token=tampered)
    with pytest.raises(SDKException, match=row.pk):
        DjangoTokenStore(refresh_ahead=False).find_token_by_id(row.pk)


@pytest.mark.django_db
def test_migration_encrypts_cleartext_rows():
    row = ZohoTokenFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE zoho_tokens_zohotoken SET access_token = %s, refresh_token = %s, "
            "client_secret = %s, access_token_checksum = '', refresh_token_checksum = '' "
            "WHERE id = %s",
            ["plain-access", "plain-refresh", "plain-secret", row.pk],
        )
    assert encrypt_cleartext_rows(ZohoToken) == 1
    assert "plain-access" not in raw_text()
    row = ZohoToken.objects.get(pk=row.pk)
    assert (row.access_token, row.refresh_token, row.client_secret) == (
        "plain-access",
        "plain-refresh",
        "plain-secret",
    )
    assert ZohoToken.objects.by_access_token("plain-access").get() == row
    assert encrypt_cleartext_rows(ZohoToken) == 0  # idempotent


def test_no_key_derives_from_secret_key(settings):
    settings.ZOHO_TOKENS = {}
    settings.SECRET_KEY = "one"
    token = crypto.encrypt("x")
    settings.SECRET_KEY = "two"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_repr_and_str_hide_secrets():
    row = ZohoToken(
        id="1", user_name="a@b:1", access_token="1000.abcdefabcdef.1234", client_secret="zzz"
    )
    assert "1000.abcdefabcdef" not in repr(row) + str(row)
    assert row.masked("access_token") == "1000.…1234"


def test_zoho_answers_do_not_show_tokens_in_repr():
    from zoho_tokens.oauth_client import TokenResponse

    answer = TokenResponse("1000.access-secret", 1, "1000.refresh-secret", "https://x")
    assert "secret" not in repr(answer)


# -- an app's client secret: one ciphertext per process and key ------------------------------


def _stored(column: str, *rows: ZohoToken) -> list[str]:
    """The stored values of ``column`` for ``rows``, in that order (ids are random)."""
    values = dict(ZohoToken.objects.values_list("pk", column))
    return [values[row.pk] for row in rows]


@pytest.mark.django_db
def test_rows_with_the_same_client_secret_share_its_ciphertext(settings):
    """A SaaS has one Zoho client for all its tenants: equal client secrets get one ciphertext
    (per process and key), so a lookup on a cold memo decrypts the client secret once. The
    other secrets never share one, even when equal."""
    _keys(settings, Fernet.generate_key().decode())
    alike = ZohoTokenFactory.create_batch(3, client_secret="app-secret-1", grant_token="1000.same")
    other = ZohoTokenFactory(client_secret="app-secret-2")
    secrets = _stored("client_secret", *alike, other)
    assert len(set(secrets[:3])) == 1
    assert secrets[3] != secrets[0]
    assert len(set(_stored("grant_token", *alike))) == 3
    assert all(crypto.decrypt(s) == "app-secret-1" for s in secrets[:3])

    crypto._decrypt_cached.cache_clear()
    for row in alike:
        DjangoTokenStore().find_token(OAuthToken(user_signature=UserSignature(row.user_name)))
    # access, refresh and grant tokens each (never shared), the client secret once
    assert crypto._decrypt_cached.cache_info().misses == 3 + 3 + 3 + 1


@pytest.mark.django_db
def test_a_new_key_gives_the_shared_client_secret_a_new_ciphertext(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _keys(settings, old)
    first = ZohoTokenFactory(client_secret="app-secret")
    _keys(settings, new, old)
    second = ZohoTokenFactory(client_secret="app-secret")
    under_old, under_new = _stored("client_secret", first, second)
    assert under_old != under_new
    assert crypto.key_id_of(under_new) == crypto.primary_key_id()

    _call("rotate-keys")
    assert len(set(_stored("client_secret", first, second))) == 1
    _keys(settings, new)
    assert {r.client_secret for r in ZohoToken.objects.filter(pk__in=[first.pk, second.pk])} == {
        "app-secret"
    }
