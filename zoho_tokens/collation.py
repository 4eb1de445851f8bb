"""Exact identity: tenant, user name, id and checksums compare byte for byte.

Why: MySQL and MariaDB compare strings with the column's collation, and the server default
(``utf8mb4_general_ci``) ignores case, accents and trailing spaces: tenant ``ACME``, ``acmé``
or ``acme `` would be tenant ``acme``, and ``Ann@x.com:1`` would be ``ann@x.com:1``. Even
``utf8mb4_bin`` pads with spaces. Migration 0004 gives these columns a binary collation without
padding (``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_0900_bin`` on MySQL 8), system check
``zoho_tokens.E010`` reads the real collations back, and every lookup re-checks tenant and
user name in Python anyway. PostgreSQL and SQLite compare exactly unless a column is given a
nondeterministic (PostgreSQL) collation, which the check reports too.
"""

from __future__ import annotations

from typing import Any

#: The columns lookups compare: they must compare exactly.
EXACT_COLUMNS = (
    "id",
    "tenant",
    "user_name",
    "access_token_checksum",
    "refresh_token_checksum",
    "grant_token_checksum",
)


def is_exact(name: str | None) -> bool:
    """A MySQL/MariaDB collation that is binary and does not pad (``"acme " != "acme"``)."""
    name = (name or "").lower()
    if name == "binary":
        return True
    return name.endswith("_bin") and ("_nopad_" in name or "_0900_" in name)


def exact_collation(connection: Any) -> str:
    """The binary, no-pad utf8mb4 collation of this MySQL/MariaDB server."""
    return "utf8mb4_nopad_bin" if connection.mysql_is_mariadb else "utf8mb4_0900_bin"


def column_collations(connection: Any, table: str) -> dict[str, str]:
    """``{column: collation}`` of ``table`` as the database reports it ("" = exact)."""
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [table],
            )
            return {str(col): str(coll or "") for col, coll in cursor.fetchall()}
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT a.attname, c.collname, c.collisdeterministic FROM pg_attribute a "
                "JOIN pg_collation c ON c.oid = a.attcollation "
                "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
                [table],
            )
            return {
                str(col): "" if deterministic else str(coll)
                for col, coll, deterministic in cursor.fetchall()
            }
    return {}


def loose_columns(connection: Any, model: Any) -> dict[str, str]:
    """The identity columns of ``model`` whose collation is not exact: ``{column: collation}``."""
    if connection.vendor not in ("mysql", "postgresql"):
        return {}
    found = column_collations(connection, model._meta.db_table)
    columns = [model._meta.get_field(name).column for name in EXACT_COLUMNS]
    if connection.vendor == "mysql":
        return {c: found[c] for c in columns if c in found and not is_exact(found[c])}
    return {c: found[c] for c in columns if found.get(c)}


def fix_statements(connection: Any, model: Any) -> list[str]:
    """The SQL that gives the identity columns an exact collation (indexes are kept)."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in EXACT_COLUMNS]
    if connection.vendor == "mysql":
        collation = exact_collation(connection)
        parts = [
            f"MODIFY {qn(f.column)} {f.db_type(connection)} CHARACTER SET utf8mb4 "
            f"COLLATE {collation} {'NULL' if f.null else 'NOT NULL'}"
            for f in fields
        ]
    elif connection.vendor == "postgresql":
        parts = [
            f'ALTER COLUMN {qn(f.column)} TYPE {f.db_type(connection)} COLLATE "default"'
            for f in fields
        ]
    else:
        return []
    return [f"ALTER TABLE {table} {', '.join(parts)}"]


def statements_in(hint: str) -> list[str]:
    """The SQL statements a check hint carries (after "run:"), for tests and scripts."""
    text = hint.split("run:", 1)[-1]
    return [part.strip() for part in text.split(";") if part.strip().upper().startswith("ALTER")]


def make_exact(apps: Any, schema_editor: Any) -> None:
    """Migration step: on MySQL/MariaDB, exact collations; nothing to do elsewhere."""
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    model = apps.get_model("zoho_tokens", "ZohoToken")
    if not loose_columns(connection, model):
        return
    for statement in fix_statements(connection, model):
        schema_editor.execute(statement)
