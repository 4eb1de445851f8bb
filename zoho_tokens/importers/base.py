"""What every token source reader shares: the row types, the errors, and the registry.

A reader turns one kind of source into a ``Source`` of plain ``SourceRow`` values; what
happens to the rows afterwards (validation, matching, saving, audit) is the same for every
source and lives in ``zoho_tokens.importers.core``. ``open_source`` picks the reader: by the
URL scheme for ``scheme://...`` sources, else by sniffing the file's first bytes.

Adding a source is one file plus one entry:

1. ``zoho_tokens/importers/<name>.py`` with a ``Reader`` subclass: set ``kind`` (shown in
   reports and the audit row), ``example`` (how to name such a source) and ``schemes`` (URL
   schemes it reads, via ``read_url``) and/or override ``accepts_file`` (recognise a file by
   its first bytes, read via ``read_file``). Build rows with ``table_rows`` for a table with
   the SDK's columns; raise ``ImportSourceError`` (one line, run the URL through
   ``redact_url``) when the source cannot be read at all.
2. ``"<name>": "zoho_tokens.importers.<name>.<Class>"`` in ``READERS`` below, before
   ``"filestore"``: plain files go to the first reader whose ``accepts_file`` says yes, and
   the FileStore reader takes any file, so it stays last.

Readers are named by dotted path so that this module imports none of them (they import it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from django.utils.module_loading import import_string

from zoho_tokens.exceptions import ExportError, ImportSourceError  # noqa: F401 - re-exported
from zoho_tokens.models import SDK_COLUMNS
from zoho_tokens.outcomes import Outcome, Status

#: The SDK's column order (FileStore positions, DBStore columns).
FIELDS = SDK_COLUMNS
#: FileStore's header line as the SDK writes it (``Constants.REDIRECT_URI`` is "redirect_uri").
FILESTORE_HEADER = (*FIELDS[:8], "redirect_uri", "api_domain")
TOKEN_FIELDS = ("refresh_token", "access_token", "grant_token")
# api_domain came in SDK 3; older FileStore files and sample tables do not have it.
OPTIONAL_FIELDS = {"api_domain"}
ALIASES = {"redirect_uri": "redirect_url"}
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # what the SDK's DBStore accepts
#: Bytes read from a plain file for ``Reader.accepts_file``.
SNIFF_BYTES = 64

#: Reader kind -> dotted path of its ``Reader`` class; plain files try them in this order.
READERS: dict[str, str] = {
    "sqlite": "zoho_tokens.importers.sqlite.SQLiteReader",
    "dbstore": "zoho_tokens.importers.dbstore.DBStoreReader",
    "filestore": "zoho_tokens.importers.filestore.FileStoreReader",  # any file: stays last
}


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


def row_outcome(row: SourceRow, status: Status, message: str = "", token_id: str = "") -> Outcome:
    """The ``outcomes.Outcome`` of one source row (``row`` is the source row: never shown)."""
    return Outcome(status, token_id, row.user_name or "", "", message, row=row)


class Reader:
    """Reads one kind of token source into a ``Source``; see the module docstring."""

    kind: ClassVar[str] = ""
    example: ClassVar[str] = ""
    schemes: ClassVar[tuple[str, ...]] = ()

    def accepts_scheme(self, scheme: str) -> bool:
        """True when ``scheme://...`` sources are this reader's (``scheme`` is lower case)."""
        return scheme in self.schemes

    def accepts_file(self, head: bytes) -> bool:
        """True when a plain file starting with ``head`` is in this reader's format."""
        return False

    def read_url(self, url: str) -> Source:
        raise ImportSourceError(f"{redact_url(url)}: {self.kind} sources are files, not URLs")

    def read_file(self, path: str) -> Source:
        raise ImportSourceError(f"{redact_url(path)}: {self.kind} sources are URLs, not files")


def readers() -> list[Reader]:
    """One instance of every registered reader, in ``READERS`` order."""
    return [import_string(path)() for path in READERS.values()]


def open_source(source: str) -> Source:
    """Detect the kind of ``source`` and read all its rows (sources are small).

    Whatever a reader says, the error leaves without the password of a source URL.
    """
    try:
        return _open(source)
    except ImportSourceError as exc:
        secret = password_of(source)
        message = str(exc)
        if not secret or (secret not in message and unquote(secret) not in message):
            raise
        for text in (secret, unquote(secret)):
            message = message.replace(text, "***")
        raise ImportSourceError(message) from None


def _open(source: str) -> Source:
    available = readers()
    scheme = source.split(":", 1)[0].lower() if "://" in source else ""
    if scheme:
        reader = next((r for r in available if r.accepts_scheme(scheme)), None)
        if reader is None:
            examples = [r.example for r in available if r.example]
            raise ImportSourceError(
                f"unsupported source scheme {scheme!r}: give "
                + (", ".join(examples[:-1]) + " or " if len(examples) > 1 else "")
                + examples[-1]
            )
        return reader.read_url(source)
    path = Path(source)
    if not path.is_file():
        raise ImportSourceError(f"{redact_url(source)}: no such file")
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise ImportSourceError(f"{redact_url(source)}: cannot read ({exc.strerror})") from None
    reader = next((r for r in available if r.accepts_file(head)), None)
    if reader is None:
        raise ImportSourceError(f"{redact_url(source)}: not a token source this import reads")
    return reader.read_file(str(path))


# -- helpers for readers ---------------------------------------------------------------------


def _userinfo(source: str) -> tuple[str, str, str, str] | None:
    """``(prefix, user, password, rest)`` of ``prefix user:password@rest``, or None.

    Read from the text, not with ``urlsplit``: an unencoded ``/``, ``?`` or ``#`` in the
    password makes ``urlsplit`` see no password at all, and a broken host makes it raise.
    The password is everything between the first ``:`` after ``//`` and the last ``@``.
    """
    prefix, sep, rest = source.partition("://")
    prefix, rest = (prefix + sep, rest) if sep else ("", source)
    userinfo, at, host = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not (at and colon):
        return None
    return prefix, user, password, host


def password_of(source: str) -> str:
    """The password ``redact_url`` hides in ``source`` ("" when there is none)."""
    found = _userinfo(source)
    return found[2] if found else ""


def redact_url(url: str) -> str:
    """``mysql://user:***@host:3306/db``: a source safe to print, even one that is malformed."""
    found = _userinfo(url)
    if found is None:
        return url
    prefix, user, _password, host = found
    return f"{prefix}{user}:***@{host}"


def split_url(url: str) -> SplitResult:
    """``urlsplit`` whose ValueError (a broken IPv6 host...) is one line without secrets."""
    try:
        return urlsplit(url)
    except ValueError:
        # The ValueError's text may quote the whole netloc, password included.
        raise ImportSourceError(
            f"{redact_url(url)}: not a valid URL: check the host (an IPv6 address goes in "
            "brackets, [::1]:3306) and percent-encode special characters in the password"
        ) from None


def table_name(url: SplitResult) -> str:
    """The ``?table=`` of a source URL (default ``oauthtoken``), checked like DBStore does."""
    return valid_table((parse_qs(url.query).get("table") or ["oauthtoken"])[-1])


def valid_table(table: str) -> str:
    """``table`` if it is a name the SDK's DBStore accepts (readers put it into SQL)."""
    if not _TABLE_NAME.match(table):
        raise ImportSourceError("table name may only hold letters, digits and underscores")
    return table


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table_rows(columns: list[str], records: Iterable[tuple], where: str) -> list[SourceRow]:
    """Rows of a table with the SDK's columns (any order, ``api_domain`` optional)."""
    names = [ALIASES.get(str(c).lower(), str(c).lower()) for c in columns]
    missing = [f for f in FIELDS if f not in names and f not in OPTIONAL_FIELDS]
    if missing:
        raise ImportSourceError(f"{where}: missing column(s) {', '.join(missing)}")
    index = {name: names.index(name) for name in FIELDS if name in names}
    return [
        SourceRow(f"row {n}", {name: _text(record[i]) for name, i in index.items()})
        for n, record in enumerate(records, start=1)
    ]
