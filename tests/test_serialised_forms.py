"""Secrets stay ciphertext in every form Django or a task queue serialises a row to (finding 2).

``dumpdata``/``loaddata``, serializers, ``model_to_dict``, ``pickle`` (also of the row a signal
receiver gets, which users hand to Celery), and writes that skip ``save()``: ``update()``,
``bulk_update()``, ``bulk_create()`` and raw saves.
"""

from __future__ import annotations

import json
import pickle
from io import StringIO

import pytest
from django.core import serializers
from django.core.management import call_command
from django.db import connection
from django.forms.models import model_to_dict
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from zoho_tokens import crypto, signals
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db

SECRETS = ("client_secret", "refresh_token", "access_token", "grant_token")


def plain(row: ZohoToken) -> dict[str, str]:
    return {name: getattr(row, name) for name in SECRETS if getattr(row, name)}


def raw(pk: str) -> dict[str, str]:
    names = (*SECRETS, "access_token_checksum", "refresh_token_checksum", "grant_token_checksum")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(names)} FROM zoho_tokens_zohotoken WHERE id = %s",
            [pk],
        )
        return dict(zip(names, cursor.fetchone(), strict=True))


def assert_stored_encrypted(pk: str, expected: dict[str, str]) -> None:
    """The database holds ciphertext that decrypts to ``expected``, with matching checksums."""
    stored = raw(pk)
    for name, value in expected.items():
        assert value not in stored[name]
        assert crypto.is_encrypted(stored[name]), name
        assert crypto.decrypt(stored[name]) == value
        if name != "client_secret":
            assert stored[f"{name}_checksum"] == crypto.checksum(value), name


@pytest.fixture
def rows():
    return [ZohoTokenFactory(grant_token="1000.grant.plain.value") for _ in range(3)]


def test_dumpdata_emits_ciphertext_and_loaddata_round_trips(rows, tmp_path):
    secrets = {row.pk: plain(row) for row in rows}
    out = StringIO()
    call_command("dumpdata", "zoho_tokens.zohotoken", "--indent", "2", stdout=out)
    dump = out.getvalue()
    for values in secrets.values():
        for value in values.values():
            assert value not in dump
    dumped = {item["pk"]: item["fields"] for item in json.loads(dump)}
    for pk in secrets:
        for name in SECRETS:
            if secrets[pk].get(name):
                assert dumped[pk][name] == raw(pk)[name]  # exactly what the database holds

    path = tmp_path / "tokens.json"
    path.write_text(dump)
    ZohoToken.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)

    for pk, values in secrets.items():
        assert_stored_encrypted(pk, values)
        assert raw(pk)["access_token"] == dumped[pk]["access_token"]  # ciphertext kept as is
        assert plain(ZohoToken.objects.get(pk=pk)) == values
    # Lookups by checksum work on the loaded rows.
    row = rows[0]
    found = DjangoTokenStore(refresh_ahead=False).find_token(
        OAuthToken(access_token=secrets[row.pk]["access_token"])
    )
    assert found.get_id() == row.pk


def test_loaddata_of_an_old_clear_text_dump_stores_ciphertext(rows, tmp_path):
    """Dumps made before this fix hold clear text: loading one encrypts it."""
    row = rows[0]
    values = plain(row)
    fields = {
        "tenant": row.tenant,
        "user_name": row.user_name,
        "client_id": row.client_id,
        **values,
        "access_token_checksum": crypto.checksum(values["access_token"]),
        "refresh_token_checksum": crypto.checksum(values["refresh_token"]),
        "grant_token_checksum": crypto.checksum(values["grant_token"]),
        "expiry_time": row.expiry_time,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps([{"model": "zoho_tokens.zohotoken", "pk": row.pk, "fields": fields}])
    )
    ZohoToken.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)
    assert_stored_encrypted(row.pk, values)
    assert plain(ZohoToken.objects.get(pk=row.pk)) == values


@pytest.mark.parametrize("fmt", ["json", "python", "xml", "jsonl"])
def test_serializers_show_ciphertext(rows, fmt):
    fresh = list(ZohoToken.objects.all())
    for row in fresh:
        plain(row)  # decrypted and cached on the instance: must still not leak
    text = str(serializers.serialize(fmt, fresh + rows))
    for row in rows:
        for value in plain(row).values():
            assert value not in text


def test_model_to_dict_shows_ciphertext(rows):
    for row in (rows[0], ZohoToken.objects.get(pk=rows[0].pk)):
        values = plain(row)
        data = model_to_dict(row)
        for name, value in values.items():
            assert data[name] != value
            assert crypto.decrypt(data[name]) == value


def test_pickle_carries_no_plaintext_and_unpickles_readable(rows):
    created = rows[0]  # assigned in clear by the factory, then saved
    loaded = ZohoToken.objects.get(pk=rows[1].pk)
    values = {created.pk: plain(created), loaded.pk: plain(loaded)}  # caches filled
    unsaved = ZohoToken(id="9", access_token="1000.never.saved.plaintext")
    for row in (created, loaded, unsaved):
        blob = pickle.dumps(row)
        for value in [*values.get(row.pk, {}).values(), "1000.never.saved.plaintext"]:
            assert value.encode() not in blob
        back = pickle.loads(blob)
        assert plain(back) == (values.get(row.pk) or {"access_token": "1000.never.saved.plaintext"})


def test_the_row_a_signal_receiver_gets_pickles_without_plaintext(
    django_capture_on_commit_callbacks,
):
    received = []

    def receiver(sender, token, **kwargs):
        received.append(pickle.dumps(token))

    signals.token_saved.connect(receiver)
    try:
        token = OAuthToken(
            client_id="1000.SIG", client_secret="sig-client-secret-4242", refresh_token="1000.sig.r"
        )
        token.set_user_signature(UserSignature("sig@example.com:1"))
        token.set_access_token("1000.sig.access")
        token.set_expires_in("9999999999999")
        with django_capture_on_commit_callbacks(execute=True):
            DjangoTokenStore(refresh_ahead=False).save_token(token)
    finally:
        signals.token_saved.disconnect(receiver)
    assert len(received) == 1
    for value in ("sig-client-secret-4242", "1000.sig.r", "1000.sig.access"):
        assert value.encode() not in received[0]
    assert pickle.loads(received[0]).access_token == "1000.sig.access"


def test_save_update_bulk_update_and_bulk_create_of_clear_values_store_ciphertext(rows):
    a, b, c = rows

    a.access_token = "1000.saved.in.clear"
    a.save()
    assert_stored_encrypted(a.pk, {"access_token": "1000.saved.in.clear"})

    ZohoToken.objects.filter(pk=b.pk).update(
        access_token="1000.updated.in.clear", refresh_token="1000.updated.refresh"
    )
    assert_stored_encrypted(
        b.pk, {"access_token": "1000.updated.in.clear", "refresh_token": "1000.updated.refresh"}
    )

    c.access_token = "1000.bulk.updated"
    c.client_secret = "bulk-updated-secret"
    ZohoToken.objects.bulk_update([c], ["access_token", "client_secret"])
    assert_stored_encrypted(
        c.pk, {"access_token": "1000.bulk.updated", "client_secret": "bulk-updated-secret"}
    )

    ZohoToken.objects.bulk_create(
        [ZohoToken(id="77", user_name="bulk@example.com:1", refresh_token="1000.bulk.created")]
    )
    assert_stored_encrypted("77", {"refresh_token": "1000.bulk.created"})

    store = DjangoTokenStore(refresh_ahead=False)
    for value, pk in (
        ("1000.saved.in.clear", a.pk),
        ("1000.updated.in.clear", b.pk),
        ("1000.bulk.updated", c.pk),
    ):
        assert store.find_token(OAuthToken(access_token=value)).get_id() == pk
    by_refresh = OAuthToken(client_id="x", client_secret="y", refresh_token="1000.bulk.created")
    assert store.find_token(by_refresh).get_id() == "77"
    for pk in (a.pk, b.pk, c.pk, "77"):
        assert ZohoToken.objects.get(pk=pk).key_id == crypto.primary_key_id()
