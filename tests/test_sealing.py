"""One seal for every write path: what the database holds is ciphertext, checksum and key id.

Each path writes a secret its own way (``save``, ``QuerySet.update``, ``bulk_update``,
``bulk_create``, a raw save as ``loaddata`` does, a pickled instance saved after unpickling,
``rotate-keys`` over a value written in clear by raw SQL, ``import``); every one of them must
leave the same three facts in the row, read back here with raw SQL.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from tests.factories import ZohoTokenFactory
from zoho_tokens import crypto, fields, keys
from zoho_tokens.importers.base import Source, SourceRow
from zoho_tokens.importers.core import import_source
from zoho_tokens.models import ZohoToken
from zoho_tokens.outcomes import Status

SECRET = "1000.5ea1ed5ec2e7b1d0c0ffee0123456789.3f9a"


def stored(pk: str) -> tuple[str, str, str]:
    """(access_token, access_token_checksum, key_id) as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, access_token_checksum, key_id FROM zoho_tokens_zohotoken "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def _save(row: ZohoToken) -> None:
    row.access_token = SECRET
    row.save()


def _update(row: ZohoToken) -> None:
    ZohoToken.objects.filter(pk=row.pk).update(access_token=SECRET)


def _bulk_update(row: ZohoToken) -> None:
    row.access_token = SECRET
    ZohoToken.objects.bulk_update([row], ["access_token"])


def _bulk_create(row: ZohoToken) -> None:
    pk = row.pk
    row.delete()
    ZohoToken.objects.bulk_create([ZohoToken(id=pk, user_name="bulk:1", access_token=SECRET)])
    row.pk = pk


def _raw_save(row: ZohoToken) -> None:
    row.access_token = SECRET
    row.save_base(raw=True)


def _pickled(row: ZohoToken) -> None:
    row.access_token = SECRET
    copy = pickle.loads(pickle.dumps(row))
    assert SECRET.encode() not in pickle.dumps(row)
    copy.save()


def _rotate_keys(row: ZohoToken) -> None:
    with connection.cursor() as cursor:  # a value written in clear, behind the model's back
        cursor.execute(
            "UPDATE zoho_tokens_zohotoken SET access_token = %s, access_token_checksum = '', "
            "key_id = '' WHERE id = %s",
            [SECRET, row.pk],
        )
    assert keys.rotate_keys().token_ids(Status.UNREADABLE) == []


def _import(row: ZohoToken) -> None:
    values = {"id": row.pk, "user_name": row.user_name or "", "client_id": row.client_id}
    values |= {"client_secret": row.client_secret, "refresh_token": row.refresh_token}
    values |= {"access_token": SECRET, "expiry_time": "4102444800000"}
    source = Source("FileStore CSV", "test rows", [SourceRow("line 2", values)])
    result = import_source(source, on_conflict="replace")
    assert [o.status for o in result.outcomes] == ["replaced"], result.outcomes


PATHS: dict[str, Callable[[ZohoToken], None]] = {
    "save": _save,
    "update": _update,
    "bulk_update": _bulk_update,
    "bulk_create": _bulk_create,
    "raw save": _raw_save,
    "pickle": _pickled,
    "rotate-keys": _rotate_keys,
    "import": _import,
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(PATHS))
def test_every_write_path_stores_ciphertext_checksum_and_key_id(path, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "ENCRYPTION_KEYS": [old]}
    row = ZohoTokenFactory()
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "ENCRYPTION_KEYS": [new, old]}

    PATHS[path](row)

    ciphertext, checksum, key_id = stored(row.pk)
    assert SECRET not in ciphertext and crypto.is_ciphertext(ciphertext)
    assert crypto.decrypt(ciphertext) == SECRET
    assert checksum == crypto.checksum(SECRET)
    assert crypto.key_id_of(ciphertext) == crypto.primary_key_id()
    assert key_id in (crypto.primary_key_id(), crypto.fingerprint(old))  # a key the row needs
    if path in ("save", "bulk_create", "rotate-keys", "import"):  # whole row on the new key
        assert key_id == crypto.primary_key_id()
    assert ZohoToken.objects.by_access_token(SECRET).get().pk == row.pk
    assert ZohoToken.objects.get(pk=row.pk).access_token == SECRET


def test_one_function_encrypts_and_one_computes_checksums():
    """The seal is the one caller of ``crypto.encrypt``; Fernet encrypts in one function."""
    sources = {
        path.relative_to(fields.__file__.rsplit("/", 2)[0]).as_posix(): path.read_text()
        for path in __import__("pathlib").Path(fields.__file__).parent.rglob("*.py")
    }
    encrypt_callers = [name for name, text in sources.items() if "crypto.encrypt(" in text]
    assert encrypt_callers == ["zoho_tokens/fields.py"]
    assert sources["zoho_tokens/fields.py"].count("crypto.encrypt(") == 1
    fernet_encrypts = [name for name, text in sources.items() if ".multi.encrypt(" in text]
    assert fernet_encrypts == ["zoho_tokens/crypto.py"]
    assert sources["zoho_tokens/crypto.py"].count(".multi.encrypt(") == 1
    assert sources["zoho_tokens/crypto.py"].count("sha256(value") == 1  # crypto.checksum
    assert sources["zoho_tokens/fields.py"].count("crypto.checksum(") == 1  # the seal
