"""The SDK's ``DBStore`` table on MySQL/MariaDB: ``mysql://user:password@host:port/db``.

Only ``SELECT * FROM <table>`` is sent. The driver is the SDK's own (mysql-connector-python)
when installed, else mysqlclient. The password never appears in what this module raises.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from zoho_tokens.importers.base import (
    ImportSourceError,
    Reader,
    Source,
    redact_url,
    split_url,
    table_name,
    table_rows,
    valid_table,
)

CONNECT_TIMEOUT = 10


class DBStoreReader(Reader):
    kind = "MySQL"
    example = "mysql://user:password@host:port/db?table=oauthtoken"
    schemes = ("mysql", "mariadb")

    def accepts_scheme(self, scheme: str) -> bool:
        # SQLAlchemy-style URLs name the driver: mysql+mysqlconnector://, mysql+pymysql://.
        return scheme in self.schemes or scheme.startswith("mysql+")

    def read_url(self, url: str) -> Source:
        return read_mysql(url)


def read_mysql(url: str) -> Source:
    """The SDK's DBStore table on MySQL/MariaDB. Only ``SELECT`` is sent."""
    safe = redact_url(url)
    parts = split_url(url)
    if "@" not in parts.netloc and "@" in url.partition("://")[2]:
        # An unencoded "/", "?" or "#" in the password ends the host part early: what
        # follows would be taken for the host, port and database.
        raise ImportSourceError(
            f"{safe}: cannot tell the password from the host: percent-encode '/', '?', '#' "
            "and '@' in the user name and password (%2F, %3F, %23, %40)"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImportSourceError(f"{safe}: no database name in the URL")
    table = table_name(parts)
    try:
        port = parts.port or 3306
    except ValueError:
        raise ImportSourceError(f"{safe}: the port is not a number from 0 to 65535") from None
    password = unquote(parts.password or "")
    params: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port,
        "user": unquote(parts.username or "root"),
        "password": password,
        "database": database,
    }
    try:
        columns, records = _select(params, table)
    except ImportSourceError:
        raise
    except Exception as exc:
        message = getattr(exc, "msg", None) or (exc.args[-1] if exc.args else "")
        message = str(message).splitlines()[0] if message else type(exc).__name__
        if password:
            message = message.replace(password, "***")
        raise ImportSourceError(f"{safe}: cannot read MySQL table {table!r} ({message})") from None
    rows = table_rows(columns, records, f"{safe} table {table}")
    return Source("MySQL", f"MySQL {safe} table {table}", rows)


def _select(params: dict[str, Any], table: str) -> tuple[list[str], list[tuple]]:
    valid_table(table)
    try:
        import mysql.connector as driver

        connection = driver.connect(connection_timeout=CONNECT_TIMEOUT, **params)
    except ImportError:
        try:
            import MySQLdb as driver  # type: ignore[no-redef]
        except ImportError:
            raise ImportSourceError(
                "reading a MySQL source needs mysql-connector-python (the SDK's DBStore "
                "driver) or mysqlclient: pip install mysql-connector-python"
            ) from None
        connection = driver.connect(
            host=params["host"],
            port=params["port"],
            user=params["user"],
            passwd=params["password"],
            db=params["database"],
            connect_timeout=CONNECT_TIMEOUT,
        )
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT * FROM `{table}`")  # noqa: S608 - name checked
        columns = [d[0] for d in cursor.description or ()]
        records = list(cursor.fetchall())
        cursor.close()
        return columns, records
    finally:
        connection.close()
