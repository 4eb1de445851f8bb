"""Move tokens in from the SDK's own stores, and back out to a FileStore file.

Readers turn each source (the SDK's ``FileStore`` CSV, a SQLite file with the Kaizen #192
``oauthtoken`` table, the SDK's ``DBStore`` MySQL/MariaDB table) into plain rows; every row
is then saved through ``DjangoTokenStore.save_token``, so an imported token is encrypted,
checksummed, audited and announced exactly like one the SDK saved. Sources are only read:
SQLite is opened with ``mode=ro``, MySQL only receives a ``SELECT``.

Nothing here prints: the ``zoho_tokens import`` / ``export`` subcommands report the results.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from django.db import DatabaseError, transaction
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from zoho_tokens import audit, crypto, signals
from zoho_tokens.exceptions import TokenDecryptionError, TokenStoreError
from zoho_tokens.models import SDK_COLUMNS, ZohoToken, generate_id
from zoho_tokens.store import DjangoTokenStore

#: The SDK's column order (FileStore positions, DBStore columns).
FIELDS = SDK_COLUMNS
#: FileStore's header line as the SDK writes it (``Constants.REDIRECT_URI`` is "redirect_uri").
FILESTORE_HEADER = (*FIELDS[:8], "redirect_uri", "api_domain")
TOKEN_FIELDS = ("refresh_token", "access_token", "grant_token")
# api_domain came in SDK 3; older FileStore files and sample tables do not have it.
OPTIONAL_FIELDS = {"api_domain"}
_ALIASES = {"redirect_uri": "redirect_url"}
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # what the SDK's DBStore accepts
_SQLITE_MAGIC = b"SQLite format 3\x00"

ON_CONFLICT = ("skip", "replace")


class ImportSourceError(Exception):
    """The source cannot be read at all. ``str()`` is one line without any secret."""


class ExportError(Exception):
    """The export file cannot be written. ``str()`` is one line without any secret."""


@dataclass
class SourceRow:
    """One record of the source: its values, or why it cannot be read."""

    position: str  # "line 3", "row 2": where to look in the source
    values: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def source_id(self) -> str:
        return self.values.get("id", "")

    @property
    def user_name(self) -> str:
        return self.values.get("user_name", "")


@dataclass
class Source:
    """A readable token source: what it is (no password in it) and its rows."""

    kind: str  # "FileStore CSV", "SQLite", "MySQL"
    description: str  # safe to print
    rows: list[SourceRow]


@dataclass
class RowOutcome:
    row: SourceRow
    status: str  # imported, replaced, skipped, failed
    message: str
    token_id: str = ""


@dataclass
class ImportResult:
    source: Source
    tenant: str
    dry_run: bool
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def skip_reasons(self) -> Counter[str]:
        return Counter(o.message for o in self.outcomes if o.status == "skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")


# -- reading sources ----------------------------------------------------------------------


def open_source(source: str) -> Source:
    """Detect the kind of ``source`` and read all its rows (sources are small)."""
    scheme = source.split(":", 1)[0].lower() if "://" in source else ""
    if scheme == "sqlite":
        path, table = _sqlite_url(source)
        return read_sqlite(path, table)
    if scheme in ("mysql", "mariadb") or scheme.startswith("mysql+"):
        return read_mysql(source)
    if scheme:
        raise ImportSourceError(
            f"unsupported source scheme {scheme!r}: give a FileStore CSV path, "
            "sqlite:///path/to/zohooauth.db or mysql://user:password@host:port/db?table=oauthtoken"
        )
    path = Path(source)
    if not path.is_file():
        raise ImportSourceError(f"{source}: no such file")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ImportSourceError(f"{source}: cannot read ({exc.strerror})") from None
    if magic == _SQLITE_MAGIC:
        return read_sqlite(str(path), "oauthtoken")
    return read_filestore(str(path))


def _sqlite_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = unquote(url[len("sqlite://") :].split("?", 1)[0])
    if path.startswith("//"):  # sqlite:////abs/path, as SQLAlchemy writes it
        path = path[1:]
    if not path or path == "/":
        raise ImportSourceError("sqlite URL without a path: use sqlite:///path/to/zohooauth.db")
    return path, _table(parse_qs(parts.query))


def _table(query: dict[str, list[str]]) -> str:
    table = (query.get("table") or ["oauthtoken"])[-1]
    if not _TABLE_NAME.match(table):
        raise ImportSourceError("table name may only hold letters, digits and underscores")
    return table


def read_filestore(path: str) -> Source:
    """The SDK's FileStore CSV: the 10-column header, or the older 9-column one."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except OSError as exc:
        raise ImportSourceError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error):
        raise ImportSourceError(f"{path}: not a FileStore token file (not CSV text)") from None
    description = f"FileStore CSV {path}"
    if not records:
        return Source("FileStore CSV", description, [])
    header = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in records[0]]
    if header not in (list(FIELDS), list(FIELDS[:9])):
        raise ImportSourceError(
            f"{path}: not a FileStore token file: the first line is not the SDK's header "
            f"({','.join(FILESTORE_HEADER)})"
        )
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not record or record == [""]:
            continue  # FileStore skips blank lines too
        position = f"line {number}"
        if len(record) != len(header):
            rows.append(
                SourceRow(
                    position,
                    error=f"has {len(record)} columns, the header has {len(header)}",
                )
            )
            continue
        rows.append(SourceRow(position, dict(zip(header, record, strict=True))))
    return Source("FileStore CSV", description, rows)


def read_sqlite(path: str, table: str = "oauthtoken") -> Source:
    """A SQLite file (the Kaizen #192 sample's ``oauthtoken`` table), opened read-only."""
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
    rows = _table_rows(columns, records, f"{path} table {table}")
    return Source("SQLite", f"SQLite {path} table {table}", rows)


def redact_url(url: str) -> str:
    """``mysql://user:***@host:3306/db``: a database URL safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def read_mysql(url: str) -> Source:
    """The SDK's DBStore table on MySQL/MariaDB. Only ``SELECT`` is sent."""
    parts = urlsplit(url)
    safe = redact_url(url)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImportSourceError(f"{safe}: no database name in the URL")
    table = _table(parse_qs(parts.query))
    try:
        port = parts.port or 3306
    except ValueError:
        raise ImportSourceError(f"{safe}: the port is not a number") from None
    params = {
        "host": parts.hostname or "localhost",
        "port": port,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": database,
    }
    password = params["password"]
    try:
        columns, records = _mysql_select(params, table)
    except ImportSourceError:
        raise
    except Exception as exc:
        message = getattr(exc, "msg", None) or (exc.args[-1] if exc.args else "")
        message = str(message).splitlines()[0] if message else type(exc).__name__
        if password:
            message = message.replace(password, "***")
        raise ImportSourceError(f"{safe}: cannot read MySQL table {table!r} ({message})") from None
    rows = _table_rows(columns, records, f"{safe} table {table}")
    return Source("MySQL", f"MySQL {safe} table {table}", rows)


def _mysql_select(params: dict[str, Any], table: str) -> tuple[list[str], list[tuple]]:
    try:
        import mysql.connector as driver

        connection = driver.connect(connection_timeout=10, **params)
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
            connect_timeout=10,
        )
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT * FROM `{table}`")  # noqa: S608 - name checked
        columns = [d[0] for d in cursor.description]
        records = list(cursor.fetchall())
        cursor.close()
        return columns, records
    finally:
        connection.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table_rows(columns: list[str], records: Iterable[tuple], where: str) -> list[SourceRow]:
    names = [_ALIASES.get(str(c).lower(), str(c).lower()) for c in columns]
    missing = [f for f in FIELDS if f not in names and f not in OPTIONAL_FIELDS]
    if missing:
        raise ImportSourceError(f"{where}: missing column(s) {', '.join(missing)}")
    index = {name: names.index(name) for name in FIELDS if name in names}
    return [
        SourceRow(f"row {n}", {name: _text(record[i]) for name, i in index.items()})
        for n, record in enumerate(records, start=1)
    ]


# -- importing ----------------------------------------------------------------------------


def _validate(row: SourceRow) -> str:
    """Why the row cannot be imported as it is ("" when it can)."""
    if row.error:
        return row.error
    for name, value in row.values.items():
        if "\x00" in value:
            return f"{name} contains a NUL character"
    expiry = row.values.get("expiry_time", "").strip()
    if expiry and not (expiry.isascii() and expiry.isdigit()):
        return "expiry_time is not epoch milliseconds"
    return ""


def _existing(row: SourceRow, tenant: str) -> ZohoToken | None:
    """The row of ours that holds the same connection: same user name, else same token."""
    rows = ZohoToken.objects.for_tenant(tenant)
    if row.user_name:
        return rows.filter(user_name=row.user_name).first()
    for name in TOKEN_FIELDS:
        value = row.values.get(name)
        if value:
            return (
                rows.filter(user_name__isnull=True)
                .filter(**{f"{name}_checksum": crypto.checksum(value)})
                .first()
            )
    return None


def _oauth_token(values: dict[str, str], token_id: str) -> OAuthToken:
    """An OAuthToken as the SDK would hand it to ``save_token``: empty fields stay empty."""
    token = object.__new__(OAuthToken)
    token._OAuthToken__find_user = True
    token.set_id(token_id)
    name = values.get("user_name") or None
    token.set_user_signature(UserSignature(name) if name else None)
    for name in ("client_id", "client_secret", *TOKEN_FIELDS, "redirect_url", "api_domain"):
        # "" rather than None: None would be filled from the stored row on a replace.
        token_value = values.get(name, "")
        getattr(token, f"set_{name}")(token_value)
    token.set_expires_in(values.get("expiry_time", "").strip())
    return token


def _import_row(row: SourceRow, tenant: str, on_conflict: str) -> RowOutcome:
    try:
        # A savepoint per row: a database error costs this row only, even in a dry run.
        with transaction.atomic():
            return _import_one(row, tenant, on_conflict)
    except DatabaseError as exc:
        return RowOutcome(row, "failed", f"database error ({type(exc).__name__})")


def _import_one(row: SourceRow, tenant: str, on_conflict: str) -> RowOutcome:
    problem = _validate(row)
    if problem:
        return RowOutcome(row, "failed", problem)
    if not any(row.values.get(name) for name in TOKEN_FIELDS):
        return RowOutcome(row, "skipped", "no refresh, access or grant token")
    existing = _existing(row, tenant)
    source_id = row.source_id.strip()
    notes = []
    if existing is not None:
        if on_conflict == "skip":
            return RowOutcome(row, "skipped", "already stored", existing.pk)
        token_id, status = existing.pk, "replaced"
        if source_id and source_id != existing.pk:
            notes.append(f"kept our id {existing.pk} (source id {source_id})")
    else:
        status = "imported"
        token_id = source_id
        if not source_id:
            token_id = generate_id()
            notes.append(f"no source id, new id {token_id}")
        elif len(source_id) > 64 or ZohoToken.objects.filter(pk=source_id).exists():
            token_id = generate_id()
            why = "too long" if len(source_id) > 64 else "taken by another token"
            notes.append(f"source id {source_id[:64]} {why}, new id {token_id}")
    try:
        DjangoTokenStore(tenant, refresh_ahead=False).save_token(_oauth_token(row.values, token_id))
    except TokenStoreError as exc:
        return RowOutcome(row, "failed", str(exc.error_message or exc), token_id)
    return RowOutcome(row, status, "; ".join(notes), token_id)


def import_source(
    source: Source,
    *,
    tenant: str = "",
    on_conflict: str = "skip",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Save every row of ``source`` through the store as source ``command``.

    ``on_conflict``: ``skip`` leaves a connection we already hold (same user name in the
    tenant) alone; ``replace`` overwrites it in place, keeping our id. ``dry_run`` runs the
    same saves in a transaction that is rolled back, so the counts are the real ones.
    """
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}")
    tenant = tenant or ""
    if len(tenant) > 64:
        raise ImportSourceError("tenant is longer than 64 characters")
    result = ImportResult(source=source, tenant=tenant, dry_run=dry_run)
    total = len(source.rows)
    # A dry run saves in one transaction that is rolled back; a real run commits row by row
    # (each save is its own transaction), so one bad row costs only itself.
    outer = transaction.atomic() if dry_run else nullcontext()
    with signals.origin("command", None, operation="import"), outer:
        for done, row in enumerate(source.rows, start=1):
            result.outcomes.append(_import_row(row, tenant, on_conflict))
            if progress:
                progress(done, total)
        if dry_run:
            transaction.set_rollback(True)
        else:
            saved = [o.token_id for o in result.outcomes if o.status in ("imported", "replaced")]
            audit.record(
                "imported",
                tenant=tenant,
                detail={"count": len(saved), "token_ids": saved[:1000], "reason": source.kind},
            )
    return result


def import_tokens(source: str, **options: Any) -> ImportResult:
    """Read ``source`` (path or URL) and import it; see ``import_source`` for options."""
    return import_source(open_source(source), **options)


# -- exporting ----------------------------------------------------------------------------


@dataclass
class ExportResult:
    path: str
    count: int
    non_numeric_ids: list[str]


def export_rows(tenant: str = "") -> list[list[str]]:
    """The tenant's tokens as FileStore records, decrypted (raises on an unreadable one)."""
    records = []
    for row in ZohoToken.objects.for_tenant(tenant).order_by("created_at", "id"):
        records.append(
            [
                row.pk,
                row.user_name or "",
                row.client_id,
                row.client_secret,
                row.refresh_token,
                row.access_token,
                row.grant_token,
                "" if row.expiry_time is None else str(row.expiry_time),
                row.redirect_url,
                row.api_domain,
            ]
        )
    return records


def export_tokens(path: str, *, tenant: str = "", force: bool = False) -> ExportResult:
    """Write the tenant's tokens as a FileStore CSV, mode 0600; never a partial file."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{path} is a directory")
    if target.exists() and not force:
        raise ExportError(f"{path} exists: pass --force to overwrite it")
    try:
        records = export_rows(tenant)
    except TokenDecryptionError as exc:
        raise ExportError(str(exc.error_message)) from None
    try:
        if force:
            # Written next to the target under a temporary name (mode 0600 from the start),
            # then renamed over it: an existing file is replaced whole, with our mode.
            fd, temp = tempfile.mkstemp(prefix=".zoho-export-", dir=target.parent)
        else:
            # O_EXCL: refuses a file that appeared since the check above.
            fd, temp = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), str(target)
    except FileExistsError:
        raise ExportError(f"{path} exists: pass --force to overwrite it") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=",", quotechar='"', quoting=csv.QUOTE_MINIMAL)
            writer.writerow(FILESTORE_HEADER)
            writer.writerows(records)
        if force:
            os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ExportError(f"{path}: cannot write ({exc.strerror})") from None
    non_numeric = [r[0] for r in records if not r[0].isascii() or not r[0].isdigit()]
    return ExportResult(str(target), len(records), non_numeric)
