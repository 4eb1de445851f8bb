"""Key rotation: re-encrypt every stored secret with the first key of ``ENCRYPTION_KEYS``.

Batched, one transaction per batch, rows locked while re-encrypted. Each value is rewritten
only after ``MultiFernet.rotate`` succeeded, and every key stays able to decrypt until the
operator removes the old one, so an interrupted run leaves every row readable and a re-run
simply continues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from zoho_tokens import crypto
from zoho_tokens.models import ZohoToken

SECRET_FIELDS = ("client_secret", "refresh_token", "access_token", "grant_token")


@dataclass
class RotationResult:
    rows: int = 0
    values: int = 0
    failed: list[str] = field(default_factory=list)  # token ids that no key could decrypt


def rotate_keys(
    batch_size: int = 200, progress: Callable[[int, int], None] | None = None
) -> RotationResult:
    result = RotationResult()
    ids = list(ZohoToken.objects.order_by("pk").values_list("pk", flat=True))
    total = len(ids)
    for start in range(0, total, batch_size):
        chunk = ids[start : start + batch_size]
        with transaction.atomic():
            rows = (
                ZohoToken.objects.select_for_update()
                .filter(pk__in=chunk)
                .values_list("pk", *SECRET_FIELDS)
            )
            for pk, *values in rows:
                update = {}
                for name, value in zip(SECRET_FIELDS, values, strict=True):
                    if not value:
                        continue
                    try:
                        update[name] = (
                            crypto.rotate(value)
                            if crypto.is_encrypted(value)
                            else crypto.encrypt(value)
                        )
                    except crypto.DecryptionError:
                        result.failed.append(pk)
                        update = {}
                        break
                if update:
                    ZohoToken.objects.filter(pk=pk).update(**update)
                    result.values += len(update)
                result.rows += 1
        if progress:
            progress(min(start + batch_size, total), total)
    return result


def encrypt_cleartext_rows(model: Any, batch_size: int = 200) -> int:
    """Encrypt values stored in clear (rows written before encryption, or by raw SQL).

    Used by migration 0002 with the historical model; checksums are recomputed from the
    clear text. Returns the number of rows changed.
    """
    changed = 0
    qs = model.objects.order_by("pk").values_list("pk", *SECRET_FIELDS)
    for pk, *values in qs.iterator(chunk_size=batch_size):
        update = {}
        for name, value in zip(SECRET_FIELDS, values, strict=True):
            if value and not crypto.is_encrypted(value):
                update[name] = crypto.encrypt(value)
                if name != "client_secret":
                    update[f"{name}_checksum"] = crypto.checksum(value)
        if update:
            model.objects.filter(pk=pk).update(**update)
            changed += 1
    return changed
