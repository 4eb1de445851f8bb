"""Unit tests of the import readers (``zoho_tokens.importers``): no database, no network.

Format detection and the registry (``base``), the FileStore layouts and the export writer
(``filestore``), the SQLite reader (``sqlite``), the DBStore URL handling (``dbstore``). The
end-to-end imports with files written by the real SDK are in ``test_import_export.py``.
"""

from __future__ import annotations

import csv
import sqlite3
import stat
from pathlib import Path

import pytest

from zoho_tokens.importers import base, dbstore, filestore, sqlite
from zoho_tokens.importers.base import (
    FIELDS,
    FILESTORE_HEADER,
    ExportError,
    ImportSourceError,
    Reader,
    Source,
    SourceRow,
    open_source,
    redact_url,
)

ROW = {
    "id": "7",
    "user_name": "ann@example.com:42",
    "client_id": "1000.CID",
    "client_secret": "csecret",
    "refresh_token": "1000.refresh",
    "access_token": "1000.access",
    "grant_token": "",
    "expiry_time": "1700000000000",
    "redirect_url": "https://example.com/cb",
    "api_domain": "https://www.zohoapis.eu",
}


def write_csv(path: Path, header: list[str] | tuple[str, ...], *records: list[str]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(records)
    return path


def write_sqlite(path: Path, table: str = "oauthtoken", columns: tuple[str, ...] = FIELDS) -> Path:
    db = sqlite3.connect(path)
    db.execute(f"create table {table} ({', '.join(columns)})")
    db.execute(
        f"insert into {table} values ({','.join('?' * len(columns))})",
        [ROW[c] for c in columns],
    )
    db.commit()
    db.close()
    return path


def error_of(source: str) -> str:
    with pytest.raises(ImportSourceError) as caught:
        open_source(source)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- format detection and the registry (base) ------------------------------------------------


def test_a_plain_path_is_sniffed_sqlite_by_its_header_else_filestore(tmp_path):
    db = write_sqlite(tmp_path / "tokens.csv")  # the name says CSV; the bytes say SQLite
    text = write_csv(tmp_path / "tokens.db", FILESTORE_HEADER, [ROW[f] for f in FIELDS])

    assert open_source(str(db)).kind == "SQLite"
    assert open_source(str(text)).kind == "FileStore CSV"


@pytest.mark.parametrize(
    ("scheme", "reader"),
    [
        ("sqlite", sqlite.SQLiteReader),
        ("SQLite", sqlite.SQLiteReader),
        ("mysql", dbstore.DBStoreReader),
        ("mariadb", dbstore.DBStoreReader),
        ("mysql+mysqlconnector", dbstore.DBStoreReader),
        ("postgres", None),
        ("file", None),
    ],
)
def test_url_schemes_pick_their_reader(scheme, reader):
    chosen = [type(r) for r in base.readers() if r.accepts_scheme(scheme.lower())]
    assert chosen == ([reader] if reader else [])


def test_an_unknown_scheme_names_every_registered_source():
    message = error_of("postgres://u:pw-123@h/db")

    assert message.startswith("unsupported source scheme 'postgres': give ")
    for reader in base.readers():
        assert reader.example in message
    assert "pw-123" not in message


class EchoReader(Reader):
    """A source added the documented way: this class plus one ``READERS`` entry."""

    kind = "Echo"
    example = "echo://anything"
    schemes = ("echo",)

    def read_url(self, url: str) -> Source:
        return Source(self.kind, url, [SourceRow("row 1", {"id": url})])


def test_a_new_source_is_one_reader_plus_one_registry_entry(monkeypatch):
    assert "unsupported source scheme 'echo'" in error_of("echo://x")

    monkeypatch.setitem(base.READERS, "echo", f"{__name__}.EchoReader")

    source = open_source("echo://x")
    assert (source.kind, source.rows[0].source_id) == ("Echo", "echo://x")


def test_a_file_reader_rejects_urls_and_an_url_reader_files():
    with pytest.raises(ImportSourceError, match="FileStore CSV sources are files"):
        filestore.FileStoreReader().read_url("x://y")
    with pytest.raises(ImportSourceError, match="MySQL sources are URLs"):
        dbstore.DBStoreReader().read_file("/x")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://root:pw@db:3306/z?table=t", "mysql://root:***@db:3306/z?table=t"),
        ("mysql://root@db/z", "mysql://root@db/z"),
        ("mysql://db/z", "mysql://db/z"),
        ("mysql://root:@db/z", "mysql://root:***@db/z"),
        ("mysql://root:p@ss@db/z", "mysql://root:***@db/z"),
        ("mysql://root:pa/ss#x?@db/z", "mysql://root:***@db/z"),
        ("mysql://root:pw@[::1:3306/z", "mysql://root:***@[::1:3306/z"),
        ("mysql:/root:pw@db/z", "mysql:***@db/z"),
        ("/srv/app/tokens.csv", "/srv/app/tokens.csv"),
        ("/srv/ann@example.com/tokens.csv", "/srv/ann@example.com/tokens.csv"),
    ],
)
def test_redact_url_hides_the_password_even_when_urlsplit_cannot(url, shown):
    assert redact_url(url) == shown


def test_missing_file():
    assert error_of("/nonexistent/dir/tokens.csv") == "/nonexistent/dir/tokens.csv: no such file"
    with pytest.raises(ImportSourceError, match=r"missing\.db: no such file"):
        sqlite.read_sqlite("/nonexistent/missing.db")
    with pytest.raises(ImportSourceError, match=r"missing\.csv: cannot read"):
        filestore.read_filestore("/nonexistent/missing.csv")


def test_table_rows_accept_any_column_order_case_and_the_old_redirect_name():
    columns = ["API_DOMAIN", *reversed(FIELDS[:8]), "redirect_uri"]
    record = (ROW["api_domain"], *(ROW[f] for f in reversed(FIELDS[:8])), ROW["redirect_url"])

    (row,) = base.table_rows(columns, [record], "t")

    assert (row.position, row.values) == ("row 1", ROW)


def test_table_rows_convert_driver_types_to_text():
    values = (7, None, b"1000.CID", "s", "r", "a", "", 1.7e12, "u")

    (row,) = base.table_rows(list(FIELDS[:9]), [values], "t")

    assert row.values["id"] == "7" and row.values["user_name"] == ""
    assert row.values["client_id"] == "1000.CID"
    assert row.values["expiry_time"] == "1700000000000"
    assert "api_domain" not in row.values  # optional: older tables do not have it


def test_table_rows_name_missing_columns():
    with pytest.raises(ImportSourceError, match=r"^where: missing column\(s\) refresh_token$"):
        base.table_rows([f for f in FIELDS if f != "refresh_token"], [], "where")


# -- FileStore --------------------------------------------------------------------------------


def test_filestore_ten_column_layout_as_the_sdk_writes_it(tmp_path):
    path = write_csv(tmp_path / "t.csv", FILESTORE_HEADER, [ROW[f] for f in FIELDS])

    source = filestore.read_filestore(str(path))

    assert source.kind == "FileStore CSV"
    assert [(r.position, r.values, r.error) for r in source.rows] == [("line 2", ROW, "")]


def test_filestore_nine_column_layout_from_before_sdk_3(tmp_path):
    path = write_csv(tmp_path / "t.csv", FIELDS[:9], [ROW[f] for f in FIELDS[:9]], [])

    (row,) = filestore.read_filestore(str(path)).rows

    assert row.values == {f: ROW[f] for f in FIELDS[:9]}


def test_filestore_rows_of_the_wrong_width_are_row_errors_not_source_errors(tmp_path):
    path = write_csv(tmp_path / "t.csv", FILESTORE_HEADER, ["1", "x"], [ROW[f] for f in FIELDS])

    first, second = filestore.read_filestore(str(path)).rows

    assert (first.position, first.error) == ("line 2", "has 2 columns, the header has 10")
    assert second.values == ROW


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,user_name\n1,x\n", "the first line is not the SDK's header"),
        (b"\xff\xfe\x00binary", "not CSV text"),
    ],
)
def test_filestore_refuses_other_files(tmp_path, content, expected):
    path = tmp_path / "other.csv"
    path.write_bytes(content)

    with pytest.raises(ImportSourceError, match=expected):
        filestore.read_filestore(str(path))


def test_filestore_empty_file_has_no_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")

    assert filestore.read_filestore(str(path)).rows == []


def test_filestore_writer_mode_0600_header_and_no_overwrite_without_force(tmp_path):
    target = tmp_path / "out.csv"
    records = [[ROW[f] for f in FIELDS]]

    filestore.write_filestore(str(target), records)

    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert filestore.read_filestore(str(target)).rows[0].values == ROW
    with pytest.raises(ExportError, match="exists: pass --force"):
        filestore.write_filestore(str(target), [])
    filestore.write_filestore(str(target), [], force=True)
    assert target.read_text().strip() == ",".join(FILESTORE_HEADER)
    with pytest.raises(ExportError, match="is a directory"):
        filestore.write_filestore(str(tmp_path), records, force=True)


# -- SQLite -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///srv/z.db", ("/srv/z.db", "oauthtoken")),
        ("sqlite:////abs/z.db?table=tok_2", ("/abs/z.db", "tok_2")),
        ("sqlite:///a%20b.db", ("/a b.db", "oauthtoken")),
    ],
)
def test_sqlite_url_path_and_table(url, expected):
    assert sqlite.parse_sqlite_url(url) == expected


@pytest.mark.parametrize(
    "source",
    [
        "sqlite:///z.db?table=x;drop",
        "sqlite:///z.db?table=o%22auth",
        "mysql://root@db/z?table=a`b",
    ],
)
def test_bad_table_name_is_refused_before_any_connection(source):
    assert error_of(source) == "table name may only hold letters, digits and underscores"


def test_read_sqlite_checks_the_table_name_it_puts_into_sql(tmp_path):
    path = write_sqlite(tmp_path / "z.db")

    with pytest.raises(ImportSourceError, match="table name may only hold"):
        sqlite.read_sqlite(str(path), 'oauthtoken" --')


def test_sqlite_reads_another_table_and_names_a_missing_one(tmp_path):
    path = write_sqlite(tmp_path / "z.db", table="tokens_v2")

    source = open_source(f"sqlite:///{path}?table=tokens_v2")

    assert (source.kind, source.description) == ("SQLite", f"SQLite {path} table tokens_v2")
    assert source.rows[0].values == ROW
    assert "no table 'oauthtoken' in this SQLite file" in error_of(str(path))


def test_sqlite_url_without_a_path():
    assert "sqlite URL without a path" in error_of("sqlite://")


# -- DBStore (MySQL/MariaDB) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:pw-123@db:3306/", "mysql://root:***@db:3306/: no database name in the URL"),
        ("mysql://root:pw-123@db:x/z", "mysql://root:***@db:x/z: the port is not a number"),
        ("mysql://root:pw/123@db/z", "mysql://root:***@db/z: cannot tell the password"),
        ("mysql://root:pw-123@[::1/z", "mysql://root:***@[::1/z: not a valid URL"),
    ],
)
def test_dbstore_url_mistakes_are_found_before_connecting(url, expected):
    message = error_of(url)

    assert message.startswith(expected)
    assert "pw-123" not in message and "pw/123" not in message
