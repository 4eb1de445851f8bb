"""Import the rows a reader produced, and export a tenant's tokens as a FileStore file.

Every source row is saved through the core write model (``zoho_tokens.rows.save``), so an
imported token is encrypted, checksummed, audited and announced exactly like one the SDK
saved. Which reader reads a source is ``base.open_source``'s business; nothing here knows
the formats. Nothing here prints: the ``zoho_tokens import`` / ``export`` subcommands report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction

from zoho_tokens import audit, rows, signals
from zoho_tokens.exceptions import TokenDecryptionError, TokenStoreError
from zoho_tokens.importers import filestore
from zoho_tokens.importers.base import (
    TOKEN_FIELDS,
    ExportError,
    ImportResult,
    ImportSourceError,
    RowOutcome,
    Source,
    SourceRow,
    open_source,
)
from zoho_tokens.models import AuditAction, AuditSource, ZohoToken, generate_id, token_db
from zoho_tokens.zohosdk import OAuthToken, UserSignature

ON_CONFLICT = ("skip", "replace")


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
    ours = ZohoToken.objects.order_by("pk")
    if row.user_name:
        return next(ours.exactly(tenant, user_name=row.user_name), None)
    for name in TOKEN_FIELDS:
        value = row.values.get(name)
        if value:
            by_token = getattr(ours.filter(user_name__isnull=True), f"by_{name}")(value)
            return next(by_token.exactly(tenant), None)
    return None


def _oauth_token(values: dict[str, str], token_id: str) -> OAuthToken:
    """An OAuthToken as the SDK would hand it to ``save_token``: empty fields stay empty."""
    token = rows.new_token()
    token.set_id(token_id)
    name = values.get("user_name") or None
    token.set_user_signature(UserSignature(name) if name else None)
    for field in ("client_id", "client_secret", *TOKEN_FIELDS, "redirect_url", "api_domain"):
        # "" rather than None: None would be filled from the stored row on a replace.
        getattr(token, f"set_{field}")(values.get(field, ""))
    token.set_expires_in(values.get("expiry_time", "").strip())
    return token


def _import_row(row: SourceRow, tenant: str, on_conflict: str) -> RowOutcome:
    try:
        # A savepoint per row: a database error costs this row only, even in a dry run.
        with transaction.atomic(using=token_db()):
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
        rows.save(_oauth_token(row.values, token_id), tenant)
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
    alias = token_db()
    # A dry run saves in one transaction that is rolled back; a real run commits row by row
    # (each save is its own transaction), so one bad row costs only itself.
    outer = transaction.atomic(using=alias) if dry_run else nullcontext()
    with signals.origin(AuditSource.COMMAND, None, operation="import"), outer:
        for done, row in enumerate(source.rows, start=1):
            result.outcomes.append(_import_row(row, tenant, on_conflict))
            if progress:
                progress(done, total)
        if dry_run:
            transaction.set_rollback(True, using=alias)
        else:
            saved = [o.token_id for o in result.outcomes if o.status in ("imported", "replaced")]
            audit.record(
                AuditAction.IMPORTED,
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


#: Rows read per round trip by ``export`` (and ``list``): memory stays flat at any count.
READ_CHUNK = 2000


def export_rows(tenant: str = "") -> Iterator[list[str]]:
    """The tenant's tokens as FileStore records, decrypted (raises on an unreadable one).

    Read in chunks (``iterator``): one record at a time is in clear in memory, and 100k
    tokens cost what 2,000 do.
    """
    # exactly(): in chunks too, and a loose collation's ACME is not exported for acme.
    for row in ZohoToken.objects.order_by("created_at", "id").exactly(tenant or ""):
        yield [
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


def export_tokens(
    path: str, *, tenant: str = "", force: bool = False, progress: Any = None
) -> ExportResult:
    """Write the tenant's tokens as a FileStore CSV, mode 0600; never a partial file.

    ``progress(done, total)``, when given, is called every ``READ_CHUNK`` rows.
    """
    filestore.check_target(path, force=force)
    total = ZohoToken.objects.for_tenant(tenant).count() if progress else 0
    count = 0
    non_numeric: list[str] = []

    def records() -> Iterator[list[str]]:
        nonlocal count
        for record in export_rows(tenant):
            count += 1
            if not record[0].isascii() or not record[0].isdigit():
                non_numeric.append(record[0])
            if progress and (count % READ_CHUNK == 0 or count == total):
                progress(count, total)
            yield record

    try:
        target = filestore.write_filestore(path, records(), force=force)
    except TokenDecryptionError as exc:
        raise ExportError(str(exc.error_message)) from None
    return ExportResult(str(target), count, non_numeric)
