"""``import`` writes in batches (issue 25): a few queries per batch of rows, not per row, with
the semantics of a row-by-row import: existing connections skipped or replaced in place, a
duplicate in the file handled as the row-by-row import handled it, bad rows reported one by
one, an audit row and ``token_saved`` per token, and a batch the database refuses done again
row by row."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ZohoTokenFactory, zoho_like
from zoho_tokens.importers import core
from zoho_tokens.importers.base import Source, SourceRow
from zoho_tokens.importers.core import import_source
from zoho_tokens.models import AuditAction, TokenAuditEvent, ZohoToken

pytestmark = pytest.mark.django_db

EXPIRY = str(int(time.time() * 1000) + 3_000_000)


def values(n: int, **changes: str) -> dict[str, str]:
    row = {
        "id": str(5000 + n),
        "user_name": f"imp{n}@example.com:{800000000 + n}",
        "client_id": "1000.IMPORT",
        "client_secret": "import-secret",
        "refresh_token": f"1000.ir{n:08d}.x",
        "access_token": f"1000.ia{n:08d}.x",
        "grant_token": "",
        "expiry_time": EXPIRY,
        "redirect_url": "https://example.com/cb",
        "api_domain": "https://www.zohoapis.com",
    }
    return row | changes


def source(*rows: dict[str, str]) -> Source:
    return Source(
        "FileStore CSV", "test", [SourceRow(f"line {n + 2}", r) for n, r in enumerate(rows)]
    )


@pytest.fixture
def batch_of(monkeypatch):
    def set_batch(size: int) -> None:
        monkeypatch.setattr(core, "IMPORT_BATCH", size)

    set_batch(4)
    return set_batch


def statuses(result) -> list[str]:
    return [o.status for o in result.outcomes]


def test_rows_spread_over_batches_are_stored_sealed_and_audited(
    batch_of, rec, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = import_source(source(*(values(n) for n in range(10))), tenant="acme")

    assert statuses(result) == ["imported"] * 10
    rows = {r.pk: r for r in ZohoToken.objects.filter(tenant="acme")}
    assert sorted(rows) == [str(5000 + n) for n in range(10)]
    row = rows["5003"]
    assert (row.refresh_token, row.access_token, row.client_secret) == (
        "1000.ir00000003.x",
        "1000.ia00000003.x",
        "import-secret",
    )
    assert row.expiry_time == int(EXPIRY) and row.key_id and row.accounts_server
    assert ZohoToken.objects.by_refresh_token("1000.ir00000003.x").get().pk == "5003"
    saved = TokenAuditEvent.objects.filter(action=AuditAction.SAVED, tenant="acme")
    assert sorted(saved.values_list("token_id", flat=True)) == sorted(rows)
    assert {e.detail["created"] for e in saved} == {True}
    assert TokenAuditEvent.objects.filter(action=AuditAction.IMPORTED).get().detail["count"] == 10
    created = [kw["token"].pk for name, kw in rec.calls if name == "token_saved"]
    assert sorted(created) == sorted(rows)


def test_existing_rows_are_skipped_or_replaced_in_place(batch_of):
    ours = ZohoTokenFactory(tenant="acme", user_name=values(2)["user_name"], grant_token="g")
    other_tenant = ZohoTokenFactory(tenant="other", user_name=values(3)["user_name"])
    rows = [values(n) for n in range(6)]

    skipped = import_source(source(*rows), tenant="acme")
    assert statuses(skipped) == [
        "imported",
        "imported",
        "skipped",
        "imported",
        "imported",
        "imported",
    ]
    assert ZohoToken.objects.get(pk=ours.pk).refresh_token == ours.refresh_token

    replaced = import_source(source(*rows), tenant="acme", on_conflict="replace")
    assert statuses(replaced) == ["replaced"] * 6
    assert replaced.outcomes[2].message == f"kept our id {ours.pk} (source id 5002)"
    row = ZohoToken.objects.get(pk=ours.pk)
    assert (row.tenant, row.refresh_token, row.grant_token) == ("acme", "1000.ir00000002.x", "")
    assert row.created_at == ours.created_at and row.updated_at > ours.updated_at
    assert ZohoToken.objects.filter(tenant="acme").count() == 6
    other_tenant.refresh_from_db()
    assert other_tenant.refresh_token != "1000.ir00000003.x"  # another tenant's is not ours


def test_a_new_access_token_for_the_same_refresh_token_is_a_refresh(batch_of):
    import_source(source(values(1)), tenant="")
    result = import_source(
        source(values(1, access_token="1000.newaccess.x")), on_conflict="replace"
    )
    assert statuses(result) == ["replaced"]
    assert ZohoToken.objects.get().access_token == "1000.newaccess.x"
    assert TokenAuditEvent.objects.filter(action=AuditAction.REFRESHED).count() == 1


def test_replacing_an_invalid_row_recovers_it(batch_of):
    ours = ZohoTokenFactory(user_name=values(1)["user_name"], invalid_reason="invalid_code")
    result = import_source(source(values(1)), on_conflict="replace")
    assert statuses(result) == ["replaced"]
    row = ZohoToken.objects.get(pk=ours.pk)
    assert row.invalid_reason == "" and row.refresh_token == "1000.ir00000001.x"
    assert TokenAuditEvent.objects.filter(action=AuditAction.RECOVERED, token_id=ours.pk).exists()


@pytest.mark.parametrize("size", [2, 500])  # the duplicate in the same batch, or the next one
def test_duplicates_in_the_file_are_one_connection(batch_of, size):
    batch_of(size)
    first, again = values(1), values(1, id="6001", refresh_token="1000.second.x")
    same_id = values(2, id="5001")  # another user with an id the file already used

    result = import_source(source(first, again, same_id))
    assert statuses(result) == ["imported", "skipped", "imported"]
    assert result.outcomes[1].message == "already stored"
    new_id = result.outcomes[2].token_id
    assert result.outcomes[2].message == f"source id 5001 taken by another token, new id {new_id}"
    assert ZohoToken.objects.get(pk="5001").refresh_token == "1000.ir00000001.x"
    ZohoToken.objects.all().delete()

    result = import_source(source(first, again, same_id), on_conflict="replace")
    assert statuses(result) == ["imported", "replaced", "imported"]
    assert result.outcomes[1].message == "kept our id 5001 (source id 6001)"
    assert ZohoToken.objects.count() == 2
    assert ZohoToken.objects.get(pk="5001").refresh_token == "1000.second.x"


def test_rows_without_user_name_match_by_token_within_a_batch(batch_of):
    anon = values(1, user_name="")
    result = import_source(source(anon, dict(anon, id="7000")))
    assert statuses(result) == ["imported", "skipped"]
    assert ZohoToken.objects.filter(user_name__isnull=True).count() == 1


def test_bad_rows_fail_one_by_one_and_the_rest_are_imported(batch_of):
    rows = [
        values(0),
        values(1, expiry_time="soon"),
        values(2, api_domain="https://evil.example.com"),
        values(3, client_id="x" * 300),
        values(4, refresh_token="", access_token=""),
        values(5, refresh_token="1000.nul\x00.x"),
        values(6),
    ]
    result = import_source(source(*rows))
    assert statuses(result) == [
        "imported",
        "failed",
        "failed",
        "failed",
        "skipped",
        "failed",
        "imported",
    ]
    messages = [o.message for o in result.outcomes]
    assert messages[1] == "expiry_time is not epoch milliseconds"
    assert "api_domain 'https://evil.example.com' is neither" in messages[2]
    assert messages[3] == "client_id is 300 characters long; the limit is 255"
    assert messages[4] == "no refresh, access or grant token"
    assert messages[5] == "refresh_token contains a NUL character"
    assert all("\n" not in m for m in messages)
    assert sorted(ZohoToken.objects.values_list("pk", flat=True)) == ["5000", "5006"]


def test_a_batch_the_database_refuses_is_done_again_row_by_row(batch_of, monkeypatch):
    refused: list[bool] = []

    def refuse_once(self, *args, **kwargs):
        if not refused:
            refused.append(True)
            from django.db import IntegrityError

            raise IntegrityError("as if a concurrent writer took a user name")
        return original(self, *args, **kwargs)

    original = core._Batch._flush
    monkeypatch.setattr(core._Batch, "_flush", refuse_once)
    result = import_source(source(*(values(n) for n in range(6))))
    assert statuses(result) == ["imported"] * 6
    assert ZohoToken.objects.count() == 6
    assert TokenAuditEvent.objects.filter(action=AuditAction.SAVED).count() == 6


def test_queries_grow_per_batch_not_per_row(batch_of):
    batch_of(50)

    def queries(first: int, count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            result = import_source(source(*(values(n) for n in range(first, first + count))))
        assert statuses(result) == ["imported"] * count
        return len(ctx.captured_queries)

    one_batch = queries(0, 50)
    four_batches = queries(1000, 200)
    assert one_batch <= 8, one_batch
    assert four_batches <= 4 * one_batch, (one_batch, four_batches)

    # Replacing costs the same per batch: one locked read, one update, one audit insert.
    rows = [values(n, access_token=zoho_like()) for n in range(1000, 1200)]
    with CaptureQueriesContext(connection) as ctx:
        result = import_source(source(*rows), on_conflict="replace")
    assert statuses(result) == ["replaced"] * 200
    assert len(ctx.captured_queries) <= 4 * one_batch, len(ctx.captured_queries)
