"""Key rotation: re-encrypt every stored secret with the first key of ``ENCRYPTION_KEYS``.

Every key in force decrypts (configured keys, and keys derived from ``SECRET_KEY`` and
``SECRET_KEY_FALLBACKS``: see ``crypto``), so this also moves rows off a derived key; each row
rotated gets the first key's ``key_id``.

Batched, one transaction and one ``UPDATE`` per batch, rows locked while re-encrypted; rows
already on the first key are skipped. Each value is rewritten
only after ``MultiFernet.rotate`` succeeded, and every key stays able to decrypt until the
operator removes the old one, so an interrupted run leaves every row readable and a re-run
simply continues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections, transaction
from django.db.models import Q

from zoho_tokens import crypto
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.fields import SECRET_FIELDS, open_value, secret_field
from zoho_tokens.models import ZohoToken, token_db
from zoho_tokens.outcomes import Outcome, Report, Status


def rotate_keys(
    batch_size: int = 200, progress: Callable[[int, int], None] | None = None
) -> Report:
    """Move every row to the first key; rows already on it are skipped (a re-run after an
    interruption continues where it stopped), and each batch is one ``UPDATE``.

    One outcome per row that needed work (on another key, or holding a clear value written
    by raw SQL; only the clear values of a row on the first key are touched): ``rotated``
    with the number of values ``changed``, or ``unreadable`` when no key decrypts it.
    """
    result = Report()
    primary = crypto.primary_key_id()
    clear = Q()
    for name in SECRET_FIELDS:
        clear |= ~Q(**{name: ""}) & ~Q(**{f"{name}__startswith": crypto.PREFIX})
    todo = ZohoToken.objects.filter(~Q(key_id=primary) | clear).order_by("pk")
    ids = list(todo.values_list("pk", flat=True))
    total = len(ids)
    for start in range(0, total, batch_size):
        chunk = ids[start : start + batch_size]
        with transaction.atomic(using=token_db()):
            rows = (
                ZohoToken.objects.select_for_update()
                .filter(pk__in=chunk)
                .values_list("pk", "user_name", "tenant", "key_id", *SECRET_FIELDS)
            )
            updates: dict[str, dict[str, str]] = {}
            for pk, user_name, tenant, key_id, *values in rows:
                stored = dict(zip(SECRET_FIELDS, values, strict=True))
                update = _resealed(ZohoToken, stored, clear_only=key_id == primary)
                who = {"token_id": pk, "user_name": user_name or "", "tenant": tenant}
                if update is None:
                    result.outcomes.append(Outcome(Status.UNREADABLE, **who))
                    continue
                changed = sum(1 for name in update if name in SECRET_FIELDS)
                if update:
                    update["key_id"] = primary  # the whole row is on it now
                    updates[pk] = update
                result.outcomes.append(Outcome(Status.ROTATED, changed=changed, **who))
            _write(updates)
        if progress:
            progress(min(start + batch_size, total), total)
    return result


def _write(updates: dict[str, dict[str, str]]) -> None:
    """One ``UPDATE … SET col = CASE id WHEN … END … WHERE id IN (…)`` for the batch (as
    ``bulk_update`` writes, of values already sealed), its SQL written here: building it
    from ``Case``/``When`` expressions was 85 % of a rotation's time at 100k tokens."""
    if not updates:
        return
    connection = connections[token_db()]
    qn = connection.ops.quote_name
    meta = ZohoToken._meta

    def column_of(name: str) -> str:
        return qn(str(getattr(meta.get_field(name), "column", name)))

    table, pk = qn(meta.db_table), column_of(str(meta.pk.name))
    columns = sorted({name for update in updates.values() for name in update} - {"key_id"})
    # Each row: an id and value per column in the CASEs, its id in the IN list, and key_id.
    limit = connection.features.max_query_params or 65535
    per_statement = max(1, (limit - 1) // (2 * len(columns) + 1))
    items = list(updates.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), per_statement):
            chunk = items[start : start + per_statement]
            sets, params = [], []
            for name in sorted({name for _key, update in chunk for name in update} - {"key_id"}):
                column = column_of(name)
                whens = [(key, update[name]) for key, update in chunk if name in update]
                sets.append(
                    f"{column} = CASE {pk} {' '.join(['WHEN %s THEN %s'] * len(whens))} "
                    f"ELSE {column} END"
                )
                params += [value for pair in whens for value in pair]
            sets.append(f"{column_of('key_id')} = %s")
            params.append(crypto.primary_key_id())
            marks = ", ".join(["%s"] * len(chunk))
            params += [key for key, _update in chunk]
            sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {pk} IN ({marks})"  # noqa: S608
            cursor.execute(sql, params)  # names from the model, values as parameters


def _resealed(model: Any, stored: dict[str, str], *, clear_only: bool = False) -> dict | None:
    """The columns that seal ``stored``'s values again under the first key; None when a
    value no key decrypts. A clear value (written by raw SQL) is sealed as it is, with the
    checksum the raw write did not compute (without it ``find_token`` misses the row);
    ``clear_only`` leaves encrypted values alone.
    """
    update: dict[str, str] = {}
    for name, value in stored.items():
        if not value or (clear_only and crypto.is_encrypted(value)):
            continue
        plain = open_value(value) if crypto.is_encrypted(value) else value
        if plain is None:
            return None
        update.update(secret_field(model._meta, name).columns(plain))
    return update


def encrypt_cleartext_rows(model: Any, batch_size: int = 200) -> int:
    """Encrypt values stored in clear (rows written before encryption, or by raw SQL).

    Used by migration 0002 with the historical model; checksums are recomputed from the
    clear text. Returns the number of rows changed.
    """
    changed = 0
    qs = model.objects.order_by("pk").values_list("pk", *SECRET_FIELDS)
    for pk, *values in qs.iterator(chunk_size=batch_size):
        stored = dict(zip(SECRET_FIELDS, values, strict=True))
        update = _resealed(model, stored, clear_only=True)
        if update:
            model.objects.filter(pk=pk).update(**update)
            changed += 1
    return changed


def fill_key_ids(model: Any, using: str | None = None, batch_size: int = 200) -> int:
    """Set ``key_id`` of rows that have none, by trying the keys in force (migration 0005).

    A row no key decrypts gets ``"unknown"``: it shows as unreadable until its key is back and
    ``rotate-keys`` has run. Returns the number of rows changed.
    """
    try:
        crypto.keyset()
    except ConfigurationError:
        return 0  # no key can be used now (the checks say why); rows stay without an id
    manager = model.objects.db_manager(using) if using else model.objects
    changed = 0
    qs = manager.filter(key_id="").order_by("pk").values_list("pk", *SECRET_FIELDS)
    for pk, *values in qs.iterator(chunk_size=batch_size):
        stored = [v for v in values if v and crypto.is_encrypted(v)]
        if not stored:
            continue
        key_id = crypto.key_id_of(stored[0]) or "unknown"
        manager.filter(pk=pk).update(key_id=key_id)
        changed += 1
    return changed
