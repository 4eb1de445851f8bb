"""Import from the SDK's own stores (fixtures written by the real SDK) and export back.

The FileStore CSV and the DBStore table are written by the SDK's own ``save_token``; the
SQLite file has the Kaizen #192 sample's schema. After an import, the real SDK with only a
user name makes a CRM call against the fake Zoho without any grant exchange.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.db_store import DBStore
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

from tests.factories import ZohoTokenFactory, zoho_like
from tests.helpers import (
    assert_one_line_failure,
    by_name,
    current_email,
    now_ms,
    oauth_token,
    run_command,
)
from zoho_tokens.importers import FIELDS, FILESTORE_HEADER
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.store import DjangoTokenStore

ANN = ("ann@example.com", "700000042")
BOB = ("bob@example.com", "700000043")
KAIZEN_DDL = """
create table oauthtoken (
  id varchar(10) primary key,
  user_name varchar(255),
  client_id varchar(255),
  client_secret varchar(255),
  refresh_token varchar(255),
  access_token varchar(255),
  grant_token varchar(255),
  expiry_time varchar(20),
  redirect_url varchar(255){api_domain}
)"""
# The SDK's README DDL for DBStore (zohocrmsdk8_0 7.0.0, "Create DBStore object").
DBSTORE_DDL = """
CREATE TABLE oauthtoken (
  id varchar(10) NOT NULL,
  user_name varchar(255),
  client_id varchar(255),
  client_secret varchar(255),
  refresh_token varchar(255),
  access_token varchar(255),
  grant_token varchar(255),
  expiry_time varchar(20),
  redirect_url varchar(255),
  api_domain varchar(255),
  primary key (id)
)"""


@pytest.fixture(autouse=True)
def _api_domain_is_the_fake(request, settings):
    """Tokens of the fake Zoho carry its URL as api domain: the configured API_DOMAIN (an
    api domain that is neither Zoho's nor configured is refused on import)."""
    if "fake_zoho" in request.fixturenames:
        fake = request.getfixturevalue("fake_zoho")
        settings.ZOHO_TOKENS = {**getattr(settings, "ZOHO_TOKENS", {}), "API_DOMAIN": fake.url}


def run(*args: str) -> tuple[int, str, str]:
    return run_command("zoho_tokens", *args)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def connection_for(fake_zoho, who, *, expired: bool) -> dict:
    """A live connection at the fake Zoho, as the SDK would have stored it."""
    email, zgid = who
    refresh = fake_zoho.add_refresh_token(email=email, zgid=zgid)
    return {
        "user_name": f"{email}:{zgid}",
        "client_id": "1000.CID",
        "client_secret": "csecret-" + zgid,
        "refresh_token": refresh,
        "access_token": zoho_like() if expired else fake_zoho.issue_access_token(refresh),
        "grant_token": "",
        "expiry_time": str(now_ms() - 60_000 if expired else now_ms() + 3_000_000),
        "redirect_url": "https://example.com/callback",
        "api_domain": fake_zoho.url,
    }


def sdk_token(conn: dict) -> OAuthToken:
    return oauth_token(
        client_id=conn["client_id"],
        client_secret=conn["client_secret"],
        refresh_token=conn["refresh_token"],
        redirect_url=conn["redirect_url"],
        user_name=conn["user_name"],
        api_domain=conn["api_domain"],
        access_token=conn["access_token"],
        expires_in=conn["expiry_time"],
    )


def write_filestore(path: Path, conns: list[dict]) -> None:
    """The SDK's own FileStore writes the file (ids 1, 2, ... by its generate_id)."""
    store = FileStore(str(path))
    for conn in conns:
        store.save_token(sdk_token(conn))


def write_kaizen(path: Path, conns: list[dict], *, api_domain: bool = True) -> None:
    db = sqlite3.connect(path)
    db.execute(KAIZEN_DDL.format(api_domain=",\n  api_domain varchar(255)" if api_domain else ""))
    for n, conn in enumerate(conns, start=1):
        values = [str(n)] + [conn[f] for f in FIELDS_AFTER_ID]
        if not api_domain:
            values = values[:-1]
        db.execute(f"insert into oauthtoken values ({','.join('?' * len(values))})", values)
    db.commit()
    db.close()


FIELDS_AFTER_ID = FIELDS[1:]


def call_crm_as(init_sdk, user_name: str, tenant: str | None = None) -> str:
    Initializer.initializer = None
    init_sdk(by_name(user_name), store=DjangoTokenStore(tenant))
    return current_email()


def assert_stored(conn: dict, row: ZohoToken) -> None:
    for name in FIELDS_AFTER_ID:
        value = getattr(row, name)
        if name == "expiry_time":
            value = "" if value is None else str(value)
        assert (value or "") == conn[name], name


# -- sources written by the real SDK ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_filestore_written_by_sdk_imports_and_sdk_calls_crm_without_login(
    fake_zoho, init_sdk, zoho_settings_for, tmp_path
):
    ann = connection_for(fake_zoho, ANN, expired=False)
    bob = connection_for(fake_zoho, BOB, expired=True)
    path = tmp_path / "sdk_tokens.txt"
    write_filestore(path, [ann, bob])
    with path.open(newline="") as fh:
        assert next(csv.reader(fh))[8] == "redirect_uri"  # the SDK's own header name
    before = digest(path)

    code, out, err = run("import", str(path))

    assert (code, err) == (0, "")
    assert "2 imported, 0 replaced, 0 skipped, 0 failed" in out
    assert digest(path) == before
    rows = {row.user_name: row for row in ZohoToken.objects.all()}
    assert {rows[ann["user_name"]].pk, rows[bob["user_name"]].pk} == {"1", "2"}
    assert_stored(ann, rows[ann["user_name"]])
    assert_stored(bob, rows[bob["user_name"]])
    raw = ZohoToken.objects.values_list("refresh_token", flat=True)
    assert ann["refresh_token"] not in list(raw)  # encrypted at rest
    saved = TokenAuditEvent.objects.exclude(action="imported")
    assert {e.source for e in saved} == {"command"} and saved.count() == 2
    summary = TokenAuditEvent.objects.get(action="imported")
    assert summary.detail["count"] == 2 and summary.source == "command"

    assert call_crm_as(init_sdk, ann["user_name"]) == ANN[0]
    assert fake_zoho.counters["refresh_ok"] == 0  # the imported access token was used
    assert call_crm_as(init_sdk, bob["user_name"]) == BOB[0]
    assert fake_zoho.counters["refresh_ok"] == 1  # expired: refreshed, not re-granted
    assert fake_zoho.counters["grant"] == 0
    assert ZohoToken.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_kaizen_sqlite_file_imports_read_only_and_sdk_calls_crm(
    fake_zoho, init_sdk, zoho_settings_for, tmp_path
):
    ann = connection_for(fake_zoho, ANN, expired=True)
    path = tmp_path / "zohooauth.db"
    write_kaizen(path, [ann])
    before = digest(path)
    os.chmod(path, 0o444)  # a writable open would fail: mode=ro is what makes this work

    code, out, err = run("import", f"sqlite:///{path}", "--tenant", "acme")

    assert (code, err) == (0, "")
    assert "1 imported" in out
    assert digest(path) == before
    row = ZohoToken.objects.get()
    assert (row.pk, row.tenant) == ("1", "acme")
    assert_stored(ann, row)
    assert call_crm_as(init_sdk, ann["user_name"], tenant="acme") == ANN[0]
    assert fake_zoho.counters["grant"] == 0
    assert fake_zoho.counters["refresh_ok"] == 1


@pytest.mark.django_db
def test_sqlite_without_api_domain_column_is_detected_from_a_plain_path(fake_zoho, tmp_path):
    ann = connection_for(fake_zoho, ANN, expired=False)
    path = tmp_path / "kaizen.sqlite"
    write_kaizen(path, [ann], api_domain=False)

    code, out, _err = run("import", str(path))

    assert code == 0 and "1 imported" in out
    row = ZohoToken.objects.get()
    assert row.api_domain == "" and row.refresh_token == ann["refresh_token"]


@pytest.mark.django_db
def test_old_nine_column_filestore_header(fake_zoho, tmp_path):
    ann = connection_for(fake_zoho, ANN, expired=False)
    path = tmp_path / "old.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS[:9])  # before SDK 3: no api_domain
        writer.writerow(["7"] + [ann[f] for f in FIELDS_AFTER_ID[:-1]])

    code, out, _err = run("import", str(path))

    assert code == 0 and "1 imported" in out
    row = ZohoToken.objects.get()
    assert (row.pk, row.user_name, row.api_domain) == ("7", ann["user_name"], "")


@pytest.fixture
def dbstore_database():
    """A scratch MariaDB database holding the SDK's DBStore table; dropped afterwards."""
    import mysql.connector

    try:
        admin = mysql.connector.connect(
            host="127.0.0.1", port=3306, user="root", password="", connection_timeout=3
        )
    except mysql.connector.Error as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"MariaDB at 127.0.0.1:3306 (user root, no password) not reachable: {exc}")
    name = f"zohooauth_import_test_{os.getpid()}"
    cursor = admin.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cursor.execute(f"CREATE DATABASE `{name}`")
    cursor.execute(f"USE `{name}`")
    cursor.execute(DBSTORE_DDL)
    admin.commit()
    yield name, cursor
    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


@pytest.mark.django_db(transaction=True)
def test_dbstore_table_written_by_sdk_imports_and_sdk_calls_crm(
    fake_zoho, init_sdk, zoho_settings_for, dbstore_database
):
    database, cursor = dbstore_database
    ann = connection_for(fake_zoho, ANN, expired=False)
    bob = connection_for(fake_zoho, BOB, expired=True)
    store = DBStore(
        host="127.0.0.1",
        database_name=database,
        user_name="root",
        password="",
        port_number="3306",
        table_name="oauthtoken",
    )
    store.save_token(sdk_token(ann))
    store.save_token(sdk_token(bob))
    cursor.execute("SELECT * FROM oauthtoken ORDER BY id")
    before = cursor.fetchall()
    assert len(before) == 2

    code, out, err = run("import", f"mysql://root@127.0.0.1:3306/{database}?table=oauthtoken")

    assert (code, err) == (0, "")
    assert "2 imported" in out
    cursor.execute("SELECT * FROM oauthtoken ORDER BY id")
    assert cursor.fetchall() == before
    rows = {row.user_name: row for row in ZohoToken.objects.all()}
    assert_stored(ann, rows[ann["user_name"]])
    assert_stored(bob, rows[bob["user_name"]])
    assert sorted(r.pk for r in rows.values()) == ["1", "2"]

    assert call_crm_as(init_sdk, bob["user_name"]) == BOB[0]
    assert call_crm_as(init_sdk, ann["user_name"]) == ANN[0]
    assert fake_zoho.counters["grant"] == 0
    assert fake_zoho.counters["refresh_ok"] == 1


# -- behaviour of an import ---------------------------------------------------------------


@pytest.mark.django_db
def test_reimport_is_idempotent_and_replace_keeps_ids(fake_zoho, tmp_path):
    conns = [connection_for(fake_zoho, who, expired=False) for who in (ANN, BOB)]
    path = tmp_path / "tokens.csv"
    write_filestore(path, conns)
    assert run("import", str(path))[0] == 0
    ids = sorted(ZohoToken.objects.values_list("pk", "user_name"))

    code, out, _err = run("import", str(path))
    assert code == 0
    assert "0 imported, 0 replaced, 2 skipped (2 already stored), 0 failed" in out
    assert sorted(ZohoToken.objects.values_list("pk", "user_name")) == ids

    code, out, _err = run("import", str(path), "--on-conflict", "replace")
    assert code == 0 and "0 imported, 2 replaced, 0 skipped" in out
    assert sorted(ZohoToken.objects.values_list("pk", "user_name")) == ids
    for conn in conns:
        assert_stored(conn, ZohoToken.objects.get(user_name=conn["user_name"]))


@pytest.mark.django_db
def test_replace_overwrites_our_row_in_place(fake_zoho, tmp_path):
    ann = connection_for(fake_zoho, ANN, expired=False)
    ours = ZohoTokenFactory(user_name=ann["user_name"], grant_token="1000.old-grant")
    path = tmp_path / "tokens.csv"
    write_filestore(path, [ann])

    code, out, _ = run("import", str(path))
    assert code == 0 and "1 skipped (1 already stored)" in out
    assert ZohoToken.objects.get().refresh_token == ours.refresh_token

    code, out, _ = run("import", str(path), "--on-conflict", "replace", "-v", "2")
    assert code == 0 and "1 replaced" in out
    assert f"kept our id {ours.pk} (source id 1)" in out
    row = ZohoToken.objects.get()
    assert row.pk == ours.pk
    assert_stored(ann, row)  # every field, including the emptied grant token


@pytest.mark.django_db
def test_dry_run_changes_nothing_and_reports_the_real_counts(fake_zoho, tmp_path):
    ZohoTokenFactory(user_name=f"{BOB[0]}:{BOB[1]}")
    conns = [connection_for(fake_zoho, who, expired=False) for who in (ANN, BOB)]
    path = tmp_path / "tokens.csv"
    write_filestore(path, conns)
    before = (ZohoToken.objects.count(), TokenAuditEvent.objects.count())

    code, out, _err = run("import", str(path), "--dry-run", "--on-conflict", "replace")

    assert code == 0
    assert "import (dry run): 1 imported, 1 replaced, 0 skipped, 0 failed" in out
    assert "nothing was written" in out
    assert (ZohoToken.objects.count(), TokenAuditEvent.objects.count()) == before
    assert not ZohoToken.objects.filter(user_name=conns[0]["user_name"]).exists()


@pytest.mark.django_db
def test_corrupt_rows_are_reported_and_the_rest_imported(fake_zoho, tmp_path):
    ann = connection_for(fake_zoho, ANN, expired=False)
    bob = connection_for(fake_zoho, BOB, expired=False)
    path = tmp_path / "tokens.csv"
    write_filestore(path, [ann])
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        bad_expiry = dict(bob, expiry_time="abc")
        writer.writerow(["2"] + [bad_expiry[f] for f in FIELDS_AFTER_ID])  # line 3
        writer.writerow(["3", "carl@example.com:1", "1000.CID"])  # line 4: missing columns
        no_token = dict(bob, refresh_token="", access_token="", grant_token="")
        no_token["user_name"] = "dora@example.com:1"
        writer.writerow(["4"] + [no_token[f] for f in FIELDS_AFTER_ID])  # line 5
        writer.writerow(["5"] + [bob[f] for f in FIELDS_AFTER_ID])  # line 6: fine

    code, out, err = run("import", str(path))

    assert code == 1
    assert (
        "2 imported, 0 replaced, 1 skipped (1 no refresh, access or grant token), 2 failed" in out
    )
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("line 3 (id 2, bob@example.com:700000043): failed")
    assert "expiry_time is not epoch milliseconds" in lines[0]
    assert lines[1].startswith("line 4") and "has 3 columns, the header has 10" in lines[1]
    assert "Traceback" not in err and bob["refresh_token"] not in err
    names = set(ZohoToken.objects.values_list("user_name", flat=True))
    assert names == {ann["user_name"], bob["user_name"]}
    assert ZohoToken.objects.get(user_name=bob["user_name"]).pk == "5"


@pytest.mark.django_db
def test_a_taken_id_gets_a_new_id_and_is_reported(fake_zoho, tmp_path):
    other = ZohoTokenFactory(id="1", tenant="other")
    ann = connection_for(fake_zoho, ANN, expired=False)
    path = tmp_path / "tokens.csv"
    write_filestore(path, [ann])

    code, out, _err = run("import", str(path))

    assert code == 0 and "1 imported" in out
    row = ZohoToken.objects.get(user_name=ann["user_name"])
    assert row.pk != "1" and row.pk.isdigit()
    assert f"source id 1 taken by another token, new id {row.pk}" in out
    other.refresh_from_db()
    assert other.user_name != ann["user_name"]  # the other token was not touched
    # A second run recognises the connection by its user name, not by the id.
    assert "1 skipped (1 already stored)" in run("import", str(path))[1]
    assert ZohoToken.objects.count() == 2


@pytest.mark.django_db
def test_rows_without_user_name_are_idempotent_by_token(fake_zoho, tmp_path):
    conn = dict(connection_for(fake_zoho, ANN, expired=False), user_name="")
    path = tmp_path / "tokens.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FILESTORE_HEADER)
        writer.writerow(["1"] + [conn[f] for f in FIELDS_AFTER_ID])
    ZohoTokenFactory(id="1")
    assert run("import", str(path))[0] == 0
    assert run("import", str(path))[1].count("1 skipped (1 already stored)") == 1
    assert ZohoToken.objects.filter(user_name__isnull=True).count() == 1


@pytest.mark.django_db
def test_verbose_rows_and_output_never_show_secrets(fake_zoho, tmp_path):
    conns = [connection_for(fake_zoho, who, expired=False) for who in (ANN, BOB)]
    path = tmp_path / "tokens.csv"
    write_filestore(path, conns)

    code, out, err = run("import", str(path), "-v", "2")

    assert code == 0
    assert f"line 2 (id 1, {conns[0]['user_name']}): imported as 1" in out
    assert f"line 3 (id 2, {conns[1]['user_name']}): imported as 2" in out
    for conn in conns:
        for name in ("client_secret", "refresh_token", "access_token"):
            assert conn[name] not in out + err


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{tmp}/missing.csv", "missing.csv: no such file"),
        ("sqlite:///{tmp}/missing.db", "missing.db: no such file"),
        ("sqlite:///{tmp}/empty.db", "no table 'oauthtoken'"),
        ("{tmp}/notes.txt", "not a FileStore token file"),
        ("postgres://u@h/db", "unsupported source scheme 'postgres'"),
        ("mysql://root:S3cr%40tPw@127.0.0.1:1/zohooauth", "cannot read MySQL table"),
        ("mysql://root@127.0.0.1:3306/db?table=x;drop", "table name may only hold"),
    ],
)
def test_unreadable_sources_fail_in_one_line_without_secrets(tmp_path, source, expected):
    sqlite3.connect(tmp_path / "empty.db").execute("create table other (x)").connection.close()
    (tmp_path / "notes.txt").write_text("hello,world\n1,2\n")

    code, out, err = run("import", source.format(tmp=tmp_path))

    assert code == 1
    assert_one_line_failure(out, err, expected)
    assert "S3cr" not in err and "S3cr" not in out
    assert ZohoToken.objects.count() == 0


# -- export -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_then_import_round_trips_every_field(tmp_path):
    rows = [
        ZohoTokenFactory(grant_token="1000.grant.abc"),
        ZohoTokenFactory(expiry_time=None, redirect_url="", api_domain="", client_id=""),
        ZohoTokenFactory(user_name=None, access_token="", refresh_token=zoho_like()),
        ZohoTokenFactory(tenant="other"),
    ]
    fields = ("pk", *FIELDS_AFTER_ID)

    def snapshot(queryset):
        return sorted(
            tuple("" if getattr(r, f) is None else str(getattr(r, f)) for f in fields)
            for r in queryset
        )

    expected = snapshot(ZohoToken.objects.for_tenant(""))
    path = tmp_path / "export.csv"

    code, out, err = run("export", str(path))

    assert code == 0 and "3 token(s) written" in out
    assert "IN CLEAR TEXT" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for row in rows[:3]:
        assert row.refresh_token not in out + err
    # The SDK's own FileStore reads the file: same values, positionally.
    sdk_tokens = FileStore(str(path)).get_tokens()
    assert sorted(t.get_id() for t in sdk_tokens) == sorted(r[0] for r in expected)

    # Into another tenant (ids are global, so they are renumbered) ...
    code, out, _ = run("import", str(path), "--tenant", "acme")
    assert code == 0 and "3 imported" in out
    renumbered = snapshot(ZohoToken.objects.for_tenant("acme"))
    assert sorted(r[1:] for r in renumbered) == sorted(r[1:] for r in expected)

    # ... and after delete_tokens, with the same ids.
    DjangoTokenStore("").delete_tokens()
    code, out, _ = run("import", str(path))
    assert code == 0 and "3 imported, 0 replaced, 0 skipped, 0 failed" in out
    assert snapshot(ZohoToken.objects.for_tenant("")) == expected
    # A stored (used) grant token is not a new grant exchange.
    assert not TokenAuditEvent.objects.filter(action="grant_exchanged").exists()


@pytest.mark.django_db
def test_export_refuses_to_overwrite_without_force(tmp_path):
    ZohoTokenFactory()
    path = tmp_path / "export.csv"
    path.write_text("keep me\n")
    os.chmod(path, 0o644)

    code, _out, err = run("export", str(path))
    assert code == 1
    assert "exists: pass --force" in err
    assert path.read_text() == "keep me\n"

    code, _out, err = run("export", str(path), "--force")
    assert code == 0
    assert path.read_text().startswith("id,user_name,client_id,client_secret,refresh_token,")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".zoho-export-")]


@pytest.mark.django_db
def test_export_warns_about_ids_filestore_cannot_number(tmp_path):
    ZohoTokenFactory(id="abc-1")
    ZohoTokenFactory(id="12")

    code, _out, err = run("export", str(tmp_path / "x.csv"))

    assert code == 0
    assert "1 id(s) are not integers (abc-1)" in err
