"""The SDK's ``FileStore`` CSV, both ways: read it for an import, write it for an export.

The SDK writes a header line and one line per token, positionally (``FIELDS``); files from
before SDK 3 have 9 columns (no ``api_domain``). The export is the one place secrets leave
the database in clear, so the file is created with mode 0600 and never left half-written.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from zoho_tokens.importers.base import (
    ALIASES,
    FIELDS,
    FILESTORE_HEADER,
    ExportError,
    ImportSourceError,
    Reader,
    Source,
    SourceRow,
)

#: Header layouts FileStore has written: today's 10 columns, and the 9 before SDK 3.
LAYOUTS = (list(FIELDS), list(FIELDS[:9]))


class FileStoreReader(Reader):
    kind = "FileStore CSV"
    example = "a FileStore CSV path"

    def accepts_file(self, head: bytes) -> bool:
        return True  # the fallback for plain files: read_filestore checks the header

    def read_file(self, path: str) -> Source:
        return read_filestore(path)


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
    header = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in records[0]]
    if header not in LAYOUTS:
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


# -- export ----------------------------------------------------------------------------------


def check_target(path: str, *, force: bool) -> Path:
    """The file to write, refused before anything is decrypted if it cannot be one."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{path} is a directory")
    if target.exists() and not force:
        raise ExportError(f"{path} exists: pass --force to overwrite it")
    return target


def write_filestore(path: str, records: Iterable[list[str]], *, force: bool = False) -> Path:
    """Write ``records`` under the SDK's header, mode 0600; never a partial file: whatever
    stops the writing (a disk error, a record that cannot be read) removes what was written."""
    target = check_target(path, force=force)
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
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
