"""A SQLite file with the SDK's token table: the Kaizen #192 sample's ``oauthtoken``.

Named ``sqlite:///path/to/zohooauth.db[?table=name]``, or given as a plain path (recognised
by SQLite's file header). Opened with ``mode=ro``: the source is never written.
"""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote, unquote

from zoho_tokens.importers.base import (
    ImportSourceError,
    Reader,
    Source,
    split_url,
    table_name,
    table_rows,
    valid_table,
)

MAGIC = b"SQLite format 3\x00"
DEFAULT_TABLE = "oauthtoken"


class SQLiteReader(Reader):
    kind = "SQLite"
    example = "sqlite:///path/to/zohooauth.db"
    schemes = ("sqlite",)

    def accepts_file(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def read_url(self, url: str) -> Source:
        path, table = parse_sqlite_url(url)
        return read_sqlite(path, table)

    def read_file(self, path: str) -> Source:
        return read_sqlite(path, DEFAULT_TABLE)


def parse_sqlite_url(url: str) -> tuple[str, str]:
    """``(path, table)`` of ``sqlite:///rel/or/abs`` or SQLAlchemy's ``sqlite:////abs``."""
    parts = split_url(url)
    path = unquote(url[len("sqlite://") :].split("?", 1)[0])
    if path.startswith("//"):  # sqlite:////abs/path, as SQLAlchemy writes it
        path = path[1:]
    if not path or path == "/":
        raise ImportSourceError("sqlite URL without a path: use sqlite:///path/to/zohooauth.db")
    return path, table_name(parts)


def read_sqlite(path: str, table: str = DEFAULT_TABLE) -> Source:
    """A SQLite file (the Kaizen #192 sample's ``oauthtoken`` table), opened read-only."""
    valid_table(table)
    if not os.path.isfile(path):
        raise ImportSourceError(f"{path}: no such file")
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportSourceError(f"{path}: cannot open SQLite file ({exc})") from None
    try:
        found = connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
            (table,),
        ).fetchone()
        if found is None:
            raise ImportSourceError(f"{path}: no table {table!r} in this SQLite file")
        cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - name checked
        columns = [d[0] for d in cursor.description]
        records = cursor.fetchall()
    except sqlite3.DatabaseError as exc:
        raise ImportSourceError(f"{path}: cannot read SQLite file ({exc})") from None
    finally:
        connection.close()
    rows = table_rows(columns, records, f"{path} table {table}")
    return Source("SQLite", f"SQLite {path} table {table}", rows)
