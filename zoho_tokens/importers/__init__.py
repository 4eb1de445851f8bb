"""Move tokens in from the SDK's own stores, and back out to a FileStore file.

One module per source behind a small registry (``base.READERS``): ``filestore`` (the SDK's
FileStore CSV, read and written), ``sqlite`` (a SQLite file with the Kaizen #192
``oauthtoken`` table), ``dbstore`` (the SDK's DBStore MySQL/MariaDB table). ``core`` imports
what a reader produced, and exports. Sources are only read: SQLite is opened with
``mode=ro``, MySQL only receives a ``SELECT``. How to add a source: see ``base``.
"""

from zoho_tokens.importers.base import (
    FIELDS,
    FILESTORE_HEADER,
    OPTIONAL_FIELDS,
    READERS,
    TOKEN_FIELDS,
    ExportError,
    ImportSourceError,
    Reader,
    Source,
    SourceRow,
    open_source,
    redact_url,
)
from zoho_tokens.importers.core import (
    ON_CONFLICT,
    ExportResult,
    export_rows,
    export_tokens,
    import_source,
    import_tokens,
)
from zoho_tokens.importers.dbstore import read_mysql
from zoho_tokens.importers.filestore import read_filestore
from zoho_tokens.importers.sqlite import read_sqlite

__all__ = [
    "FIELDS",
    "FILESTORE_HEADER",
    "ON_CONFLICT",
    "OPTIONAL_FIELDS",
    "READERS",
    "TOKEN_FIELDS",
    "ExportError",
    "ExportResult",
    "ImportSourceError",
    "Reader",
    "Source",
    "SourceRow",
    "export_rows",
    "export_tokens",
    "import_source",
    "import_tokens",
    "open_source",
    "read_filestore",
    "read_mysql",
    "read_sqlite",
    "redact_url",
]
