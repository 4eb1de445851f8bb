"""Audit retention: delete audit rows older than ``AUDIT_RETENTION_DAYS`` (``prune-audit``).

One row per refresh adds up (10,000 connections refreshed hourly: 240,000 rows a day), so old
rows go, in short transactions: each batch deletes one range of primary keys (at most
``batch_size`` rows, found through the primary key index), so no lock is held for long and
a scheduler can run it while the application writes new rows. Interrupted, it simply starts
again where the old rows now begin.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import ServiceError
from zoho_tokens.models import TokenAuditEvent, token_db

#: Primary keys per delete: a few thousand rows, well under a second of locks.
PRUNE_BATCH = 5000


@dataclass
class PruneReport:
    """What a prune did (or, with ``dry_run``, would do)."""

    days: int | None  # None: retention is off, nothing was looked at
    cutoff: dt.datetime | None = None
    deleted: int = 0  # rows deleted (dry run: rows that would be)
    batches: int = 0
    longest_batch_seconds: float = 0.0
    dry_run: bool = False

    @property
    def enabled(self) -> bool:
        return self.days is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (a task's result)."""
        return {
            "days": self.days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "deleted": self.deleted,
            "batches": self.batches,
            "longest_batch_seconds": round(self.longest_batch_seconds, 3),
            "dry_run": self.dry_run,
        }


def prune_audit(
    days: int | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = PRUNE_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> PruneReport:
    """Delete audit rows created more than ``days`` (default ``AUDIT_RETENTION_DAYS``) ago.

    ``progress(done, total)`` is called after each batch (``total`` is the number of primary
    keys to walk, an upper bound of the rows). Raises ``ServiceError`` for ``days`` < 1.
    """
    days = zoho_settings.AUDIT_RETENTION_DAYS if days is None else days
    if days is None:
        return PruneReport(days=None, dry_run=dry_run)
    if int(days) < 1 or batch_size < 1:
        raise ServiceError(f"cannot prune audit rows of the last {days} day(s): use 1 or more")
    cutoff = timezone.now() - dt.timedelta(days=int(days))
    report = PruneReport(days=int(days), cutoff=cutoff, dry_run=dry_run)
    old = TokenAuditEvent.objects.filter(created_at__lt=cutoff)
    if dry_run:
        report.deleted = old.count()
        return report
    bounds = old.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"], bounds["high"]
    if low is None:
        return report
    total = high - low + 1
    start = low
    while start <= high:
        stop = min(start + batch_size, high + 1)
        began = time.monotonic()
        with transaction.atomic(using=token_db()):
            deleted, _counts = old.filter(pk__gte=start, pk__lt=stop).delete()
        report.longest_batch_seconds = max(report.longest_batch_seconds, time.monotonic() - began)
        report.deleted += deleted
        report.batches += 1
        start = stop
        if progress is not None:
            progress(start - low, total)
    return report
