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
from django.db.models import Q
from django.utils import timezone

from zoho_tokens import audit, context, crypto, rows
from zoho_tokens.exceptions import DecryptionError, TokenStoreError, describe
from zoho_tokens.importers import filestore
from zoho_tokens.importers.base import (
    TOKEN_FIELDS,
    ExportError,
    ImportSourceError,
    Source,
    SourceRow,
    open_source,
    row_outcome,
)
from zoho_tokens.models import AuditAction, AuditSource, ZohoToken, generate_id, token_db
from zoho_tokens.outcomes import Outcome, Report, Status
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


def _import_row(row: SourceRow, tenant: str, on_conflict: str) -> Outcome:
    try:
        # A savepoint per row: a database error costs this row only, even in a dry run.
        with transaction.atomic(using=token_db()):
            return _import_one(row, tenant, on_conflict)
    except DatabaseError as exc:
        return row_outcome(row, Status.FAILED, f"database error: {describe(exc)}")


def _refusal(row: SourceRow) -> Outcome | None:
    """Why a source row cannot be imported at all (a failed or skipped outcome), or None."""
    problem = _validate(row)
    if problem:
        return row_outcome(row, Status.FAILED, problem)
    if not any(row.values.get(name) for name in TOKEN_FIELDS):
        return row_outcome(row, Status.SKIPPED, "no refresh, access or grant token")
    return None


def _target(
    row: SourceRow, existing: ZohoToken | None, taken: Callable[[str], bool]
) -> tuple[str, Status, list[str]]:
    """The id a source row is stored under, its status and notes: the stored row of its user
    keeps our id; otherwise the source's id, unless it is missing, too long or ``taken``."""
    source_id = row.source_id.strip()
    notes = []
    if existing is not None:
        if source_id and source_id != existing.pk:
            notes.append(f"kept our id {existing.pk} (source id {source_id})")
        return existing.pk, Status.REPLACED, notes
    token_id = source_id
    if not source_id:
        token_id = generate_id()
        notes.append(f"no source id, new id {token_id}")
    elif len(source_id) > 64 or taken(source_id):
        token_id = generate_id()
        why = "too long" if len(source_id) > 64 else "taken by another token"
        notes.append(f"source id {source_id[:64]} {why}, new id {token_id}")
    return token_id, Status.IMPORTED, notes


def _import_one(row: SourceRow, tenant: str, on_conflict: str) -> Outcome:
    refused = _refusal(row)
    if refused is not None:
        return refused
    existing = _existing(row, tenant)
    if existing is not None and on_conflict == "skip":
        return row_outcome(row, Status.SKIPPED, "already stored", existing.pk)
    token_id, status, notes = _target(
        row, existing, lambda pk: ZohoToken.objects.filter(pk=pk).exists()
    )
    try:
        rows.save(_oauth_token(row.values, token_id), tenant)
    except TokenStoreError as exc:
        return row_outcome(row, Status.FAILED, str(exc.error_message or exc), token_id)
    return row_outcome(row, status, "; ".join(notes), token_id)


def import_source(
    source: Source,
    *,
    tenant: str = "",
    on_conflict: str = "skip",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Save every row of ``source`` through the store as source ``command``.

    ``on_conflict``: ``skip`` leaves a connection we already hold (same user name in the
    tenant) alone; ``replace`` overwrites it in place, keeping our id. ``dry_run`` runs the
    same saves in a transaction that is rolled back, so the counts are the real ones.
    Rows are written ``IMPORT_BATCH`` at a time (``_Batch``).
    """
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}")
    tenant = tenant or ""
    if len(tenant) > 64:
        raise ImportSourceError("tenant is longer than 64 characters")
    result = Report()
    total = len(source.rows)
    alias = token_db()
    # A dry run saves in one transaction that is rolled back; a real run commits batch by
    # batch, and a batch the database refuses is retried row by row (one bad row costs only
    # itself).
    outer = transaction.atomic(using=alias) if dry_run else nullcontext()
    with context.origin(AuditSource.COMMAND, None, operation="import"), outer:
        for start in range(0, total, IMPORT_BATCH):
            chunk = source.rows[start : start + IMPORT_BATCH]
            result.outcomes.extend(_import_batch(chunk, tenant, on_conflict))
            if progress:
                progress(start + len(chunk), total)
        if dry_run:
            transaction.set_rollback(True, using=alias)
        else:
            saved = result.token_ids(Status.IMPORTED, Status.REPLACED)
            audit.record(
                AuditAction.IMPORTED,
                tenant=tenant,
                detail={"count": len(saved), "token_ids": saved[:1000], "reason": source.kind},
            )
    return result


#: Source rows written per transaction: a few queries per batch, not per row.
IMPORT_BATCH = 500


def _import_batch(chunk: list[SourceRow], tenant: str, on_conflict: str) -> list[Outcome]:
    try:
        with transaction.atomic(using=token_db()):
            return _Batch(tenant, on_conflict).run(chunk)
    except DatabaseError:
        # A concurrent writer took a user name or id, or the database refused a value:
        # the batch is rolled back and done again row by row, so only the bad row fails.
        return [_import_row(row, tenant, on_conflict) for row in chunk]


def _first_token(row: SourceRow) -> tuple[str, str] | None:
    """``(field, value)`` a row without user name is matched by (as ``_existing``)."""
    for name in TOKEN_FIELDS:
        value = row.values.get(name)
        if value:
            return name, value
    return None


class _Batch:
    """Import up to ``IMPORT_BATCH`` rows with the semantics of ``_import_one`` row by row.

    One locked query finds the rows we hold (same user name, same token without user name,
    or a taken id); new rows go in with one ``bulk_create``, replaced ones with one
    ``bulk_update``, sealed by ``ZohoToken.seal_whole`` and filled by ``rows.put`` like a
    save; their audit rows in one bulk insert (``rows.announce_saves``). A row that matches
    one written earlier in the batch (a duplicate in the file) writes what is pending first.
    """

    def __init__(self, tenant: str, on_conflict: str) -> None:
        self.tenant, self.on_conflict = tenant, on_conflict
        self.by_name: dict[str, ZohoToken] = {}
        self.by_token: dict[tuple[str, str], ZohoToken] = {}
        self.taken: set[str] = set()
        self.new: list[ZohoToken] = []
        self.changed: list[ZohoToken] = []
        self.saved: list[tuple[ZohoToken, bool, bool]] = []

    def run(self, chunk: list[SourceRow]) -> list[Outcome]:
        self._find(chunk)
        outcomes = [self._one(row) for row in chunk]
        self._flush()
        return outcomes

    def _find(self, chunk: list[SourceRow]) -> None:
        names = {row.user_name for row in chunk if row.user_name}
        ids = {row.source_id.strip() for row in chunk if 0 < len(row.source_id.strip()) <= 64}
        query = Q(pk__in=ids)
        if names:
            query |= Q(tenant=self.tenant, user_name__in=names)
        digests: dict[str, set[str]] = {}
        for row in chunk:
            first = _first_token(row) if not row.user_name else None
            if first:
                digests.setdefault(first[0], set()).add(crypto.checksum(first[1]))
        for name, values in digests.items():
            query |= Q(
                tenant=self.tenant, user_name__isnull=True, **{f"{name}_checksum__in": values}
            )
        found = ZohoToken.objects.filter(query).select_for_update().order_by("pk")
        for row in found:
            self.taken.add(row.pk)
            if row.tenant != self.tenant:  # exactly: a loose collation may match ACME to acme
                continue
            self._remember(row)

    def _remember(self, row: ZohoToken) -> None:
        self.taken.add(row.pk)
        if row.user_name:
            self.by_name.setdefault(row.user_name, row)
            return
        for name in TOKEN_FIELDS:
            digest = getattr(row, f"{name}_checksum")
            if digest:
                self.by_token.setdefault((name, digest), row)

    def _existing(self, row: SourceRow) -> ZohoToken | None:
        if row.user_name:
            return self.by_name.get(row.user_name)
        first = _first_token(row)
        return self.by_token.get((first[0], crypto.checksum(first[1]))) if first else None

    def _one(self, row: SourceRow) -> Outcome:
        refused = _refusal(row)
        if refused is not None:
            return refused
        existing = self._existing(row)
        if existing is not None and self.on_conflict == "skip":
            return row_outcome(row, Status.SKIPPED, "already stored", existing.pk)
        if existing is not None and (
            any(existing is r for r in self.new) or any(existing is r for r in self.changed)
        ):
            self._flush()  # a duplicate in the file replaces what this batch wrote
        token_id, status, notes = _target(row, existing, self.taken.__contains__)
        token = _oauth_token(row.values, token_id)
        try:
            self._put(token, existing, token_id)
        except TokenStoreError as exc:
            return row_outcome(row, Status.FAILED, str(exc.error_message or exc), token_id)
        return row_outcome(row, status, "; ".join(notes), token_id)

    def _put(self, token: OAuthToken, existing: ZohoToken | None, token_id: str) -> None:
        """``rows.save``'s upsert for one row, written at the next ``_flush``."""
        name, _id, expiry_time = rows.check(token, self.tenant)
        created = existing is None
        if existing is None:
            row = ZohoToken(id=token_id, tenant=self.tenant)
        else:
            row = existing
            rows.fill(token, row)
            name, expiry_time = rows.user_name(token), rows.expiry(token)
        refreshed = rows.put(token, row, name, expiry_time, None, created)
        row.seal_whole()
        (self.new if created else self.changed).append(row)
        self.saved.append((row, created, refreshed))
        self._remember(row)

    def _flush(self) -> None:
        if self.new:
            ZohoToken.objects.bulk_create(self.new, batch_size=IMPORT_BATCH)
        if self.changed:
            now = timezone.now()
            for row in self.changed:
                row.updated_at = now
            ZohoToken.objects.bulk_update(self.changed, UPDATED_COLUMNS, batch_size=IMPORT_BATCH)
        rows.announce_saves(self.saved)
        self.new, self.changed, self.saved = [], [], []


#: What replacing a row writes: every column but the id and its creation time.
UPDATED_COLUMNS = [
    f.name for f in ZohoToken._meta.concrete_fields if f.name not in ("id", "created_at")
]


def import_tokens(source: str, **options: Any) -> Report:
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
    except DecryptionError as exc:
        raise ExportError(str(exc.error_message)) from None
    return ExportResult(str(target), count, non_numeric)
