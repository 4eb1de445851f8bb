"""Finding 3 of issue 21: operator commands never cross tenants under a loose collation.

With the tenant column given a case- and accent-insensitive collation behind our back (a
DBA's routine ``CONVERT TO ... utf8mb4_general_ci`` on MariaDB, a nondeterministic ICU
collation on PostgreSQL; check E010 then fires), ``export --tenant acme`` wrote tenant
``ACME``'s refresh tokens in clear, ``purge --all --tenant acme`` deleted them, and ``list``,
``refresh``, the task helpers and the import's conflict lookup selected them. Every one of
them now goes through ``ZohoToken.objects.exactly()``, which compares tenant, user name and
id again in Python.

Runs on PostgreSQL and MariaDB (the CI's postgres and mariadb lanes run the whole suite);
SQLite compares exactly unless a column says otherwise, so there the tests skip.
"""

from __future__ import annotations

import csv
import json

import pytest
from django.db import connection

from tests.factories import ZohoTokenFactory
from tests.helpers import now_ms, run_command
from zoho_tokens import collation, crypto, services, tasks
from zoho_tokens.context import AuditSource
from zoho_tokens.importers import FILESTORE_HEADER
from zoho_tokens.models import ZohoToken

pytestmark = pytest.mark.django_db(transaction=True)

USER = "ann@example.com:700000042"
#: Equal to "acme" under both loose collations below (case and accent).
LOOK_ALIKES = ["ACME", "Acmé"]


@pytest.fixture
def loose():
    """The tenant column (on MariaDB also user name and id) compares loosely until the end."""
    if connection.vendor not in ("mysql", "postgresql"):
        pytest.skip("SQLite compares exactly unless a column is given a collation")
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "ALTER TABLE zoho_tokens_zohotoken "
                "MODIFY id varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci "
                "NOT NULL, MODIFY tenant varchar(64) CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_general_ci NOT NULL, MODIFY user_name varchar(255) "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL"
            )
        else:
            cursor.execute(
                "CREATE COLLATION IF NOT EXISTS zt_loose "
                "(provider = icu, locale = 'und-u-ks-level1', deterministic = false)"
            )
            # The tenant column only: user_name has a text_pattern_ops index (migration
            # 0008), which a nondeterministic collation cannot have.
            cursor.execute(
                "ALTER TABLE zoho_tokens_zohotoken "
                'ALTER COLUMN tenant TYPE varchar(64) COLLATE "zt_loose"'
            )
    assert collation.loose_columns(connection, ZohoToken)
    yield
    with connection.cursor() as cursor:
        for statement in collation.fix_statements(connection, ZohoToken):
            cursor.execute(statement)


@pytest.fixture
def tenants(loose, live_token):
    """acme's connection and one per look-alike tenant, all live at the fake Zoho."""
    acme = live_token(USER, tenant="acme", expires_in_ms=30_000)
    others = [
        live_token(f"{n}{USER}", tenant=t, expires_in_ms=30_000) for n, t in enumerate(LOOK_ALIKES)
    ]
    # (A look-alike tenant cannot hold acme's user name in any case: the loose unique index
    # on (tenant, user_name) refuses it.)
    return acme, others


def snapshot(rows: list[ZohoToken]) -> list[tuple]:
    stored = {r.pk: r for r in ZohoToken.objects.all()}
    return [
        (stored[r.pk].tenant, stored[r.pk].access_token, stored[r.pk].refresh_token) for r in rows
    ]


def test_export_writes_only_the_tenants_own_tokens(tenants, cmd_settings, tmp_path):
    acme, others = tenants
    path = tmp_path / "acme.csv"
    code, _out, err = run_command("zoho_tokens", "export", str(path), "--tenant", "acme")
    assert code == 0, err
    text = path.read_text()
    assert acme.refresh_token in text
    for other in others:
        assert other.refresh_token not in text and other.client_secret not in text
    with path.open(newline="") as fh:
        assert len(list(csv.reader(fh))) == 2  # header + acme


def test_list_shows_only_the_tenants_own_tokens(tenants, cmd_settings):
    acme, _others = tenants
    code, out, err = run_command("zoho_tokens", "list", "--tenant", "acme", "--json")
    assert code == 0, err
    assert [row["id"] for row in json.loads(out)] == [acme.pk]


def test_refresh_and_the_tasks_refresh_only_the_tenants_own_tokens(tenants, cmd_settings):
    acme, others = tenants
    before = snapshot(others)  # every token expires in 30 s: all are due
    assert [r.pk for r in services.select_for_refresh(expiring_within=600, tenant="acme")] == [
        acme.pk
    ]
    report = tasks.refresh_expiring(within=600, tenant="acme")
    assert {o.token_id for o in report.outcomes} == {acme.pk}
    code, out, err = run_command("zoho_tokens", "refresh", "--all", "--tenant", "acme")
    assert code == 0, err
    assert "1 refreshed" in out
    for report in (
        tasks.refresh_all(tenant="acme"),
        services.refresh_tokens(tenant="acme", source=AuditSource.COMMAND),
    ):
        assert {o.token_id for o in report.outcomes} == {acme.pk}
    assert [r.pk for r in services.select_for_refresh(tenant="acme")] == [acme.pk]
    assert snapshot(others) == before


def test_purge_deletes_only_the_tenants_own_tokens(tenants, cmd_settings):
    _acme, others = tenants
    code, _out, err = run_command("zoho_tokens", "purge", "--all", "--tenant", "acme", "--yes")
    assert code == 0, err
    assert set(ZohoToken.objects.values_list("pk", flat=True)) == {o.pk for o in others}
    purged = services.purge(services.PurgeSelection(everything=True, tenant="ACME"))
    assert set(purged.token_ids(services.Status.PURGED)) == {others[0].pk}
    assert set(ZohoToken.objects.values_list("pk", flat=True)) == {others[1].pk}


@pytest.mark.parametrize("on_conflict", ["skip", "replace"])
def test_import_conflicts_are_looked_up_in_the_tenant_exactly(
    tenants, cmd_settings, tmp_path, on_conflict
):
    """acme has no connection for ACME's user: not "already stored" (skip) and never ACME's
    row replaced; the loose unique index then refuses the row, which fails alone."""
    _acme, others = tenants
    path = tmp_path / "in.csv"
    expiry = str(now_ms() + 3_600_000)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FILESTORE_HEADER)
        row = [others[0].user_name, "1000.C", "s", "1000.new.r", "1000.new.a", "", expiry, "", ""]
        writer.writerow(["", *row])
    before = snapshot(others)
    _code, out, err = run_command(
        "zoho_tokens", "import", str(path), "--tenant", "acme", "--on-conflict", on_conflict
    )
    assert "0 replaced, 0 skipped" in out, out + err
    assert snapshot(others) == before
    assert not ZohoToken.objects.filter(
        refresh_token_checksum=crypto.checksum("1000.new.r")
    ).exclude(tenant="acme")


def test_revoke_and_refresh_by_id_take_exactly_that_id(loose, cmd_settings):
    """On MariaDB the id column is loose too: "TOK-ACME" found "tok-acme"."""
    row = ZohoTokenFactory(id="tok-acme", tenant="acme")
    report = services.revoke_tokens(["TOK-ACME"], source=AuditSource.COMMAND)
    assert (report.counts, report.missing) == ({"missing": 1}, ["TOK-ACME"])
    assert ZohoToken.objects.filter(pk=row.pk).exists()
    assert services.select_for_refresh(["TOK-ACME"]) == []
    assert [r.pk for r in services.select_for_refresh(["tok-acme"])] == [row.pk]


def test_the_one_selection_rechecks_tenant_user_name_and_id(tenants):
    acme, others = tenants
    assert [r.pk for r in ZohoToken.objects.exactly("acme")] == [acme.pk]
    assert [r.pk for r in ZohoToken.objects.exactly("acme", user_name=USER)] == [acme.pk]
    assert list(ZohoToken.objects.exactly("acme", user_name=USER.upper())) == []
    name = others[0].user_name
    assert [r.pk for r in ZohoToken.objects.exactly("ACME", user_name=name)] == [others[0].pk]
    assert list(ZohoToken.objects.exactly("ACME", user_name=name.upper())) == []
    assert [r.pk for r in ZohoToken.objects.exactly(None, ids=[acme.pk])] == [acme.pk]
