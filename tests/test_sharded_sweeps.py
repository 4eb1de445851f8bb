"""Sweeps that spread over workers: ``--shard I/N`` (``tasks.refresh_expiring(shard=...)``)
gives each of N workers a disjoint share of the due tokens, so N workers refresh every due
token exactly once, in parallel (speed: ``bench/bench_scale.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers import ROOT, child_env, run_command
from zoho_tokens import refresh, services, tasks
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import ServiceError
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.outcomes import Status
from zoho_tokens.services import refreshes

pytestmark = pytest.mark.usefixtures("cmd_settings")


def test_shards_partition_any_ids():
    ids = [str(1_000_000 + n) for n in range(1000)] + ["abc-1", "x"]
    shares = [{i for i in ids if services.Shard(k, 4).owns(i)} for k in range(1, 5)]
    assert set().union(*shares) == set(ids)
    assert sum(len(s) for s in shares) == len(ids)  # disjoint
    assert all(len(s) > 150 for s in shares)  # and spread


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x", "1/", "-1/4", "1/4/2"])
def test_a_bad_shard_is_one_clear_line(text):
    with pytest.raises(ServiceError, match="shard"):
        services.Shard.parse(text)


@pytest.mark.django_db
def test_the_command_says_what_a_shard_is():
    code, out, err = run_command(
        "zoho_tokens", "refresh", "--expiring-within", "600", "--shard", "5/4"
    )
    assert code == 1 and out == ""
    assert err.strip() == (
        "shard 5/4 does not exist: use I/N with 1 <= I <= N, e.g. 1/4 to 4/4 for four workers"
    )


def due_and_later(live_token, due: int, later: int) -> tuple[list, list]:
    return (
        [live_token(f"d{n}@example.com:70000{n:04d}", expires_in_ms=120_000) for n in range(due)],
        [
            live_token(f"l{n}@example.com:71000{n:04d}", expires_in_ms=3_000_000)
            for n in range(later)
        ],
    )


@pytest.mark.django_db
def test_two_task_shards_refresh_each_due_token_once(fake_zoho, live_token):
    due, _later = due_and_later(live_token, 10, 3)
    first = tasks.refresh_expiring(600, shard="1/2")
    second = tasks.refresh_expiring(600, shard="2/2")
    ids = [o.token_id for o in first.outcomes] + [o.token_id for o in second.outcomes]
    assert sorted(ids) == sorted(row.pk for row in due)
    assert (
        first.count(Status.REFRESHED) and second.count(Status.REFRESHED) and first.ok and second.ok
    )
    refreshed = TokenAuditEvent.objects.filter(action="refreshed").values_list(
        "token_id", flat=True
    )
    assert Counter(refreshed) == {row.pk: 1 for row in due}


@pytest.mark.django_db
def test_a_sweep_costs_at_most_four_queries_per_refreshed_token(fake_zoho, live_token):
    """The lease, the locked read, the write (which gives the lease back) and the audit row:
    the sweep reads no row again before or after (issue 25; it was 8)."""
    due, _later = due_and_later(live_token, 12, 3)
    refresh.sync_clock()  # the shared clock's query, once a minute, is not per token
    with CaptureQueriesContext(connection) as ctx:
        report = tasks.refresh_expiring(600)
    assert report.count(Status.REFRESHED) == len(due) and report.ok
    per_token = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    # Selection, one chunk load, the final audit-free report: a few for the whole sweep.
    assert len(per_token) <= 4 * len(due) + 3, per_token
    # Taken once each (an UPDATE of the lease alone); given back in the save's own UPDATE.
    leases = [q for q in per_token if re.search(r"SET [`\"]refresh_lease_until[`\"]", q)]
    assert len(leases) == len(due), leases
    refreshed = TokenAuditEvent.objects.filter(action="refreshed").values_list(
        "token_id", flat=True
    )
    assert Counter(refreshed) == {row.pk: 1 for row in due}


@pytest.mark.django_db
def test_a_stale_row_refreshed_meanwhile_is_not_refreshed_again(fake_zoho, live_token):
    """A sweep works from rows loaded in chunks: a token the store refreshed after the
    chunk was loaded is reported not due, and Zoho is asked once."""
    (row,), _later = due_and_later(live_token, 1, 0)
    stale = ZohoToken.objects.get(pk=row.pk)
    refresh.refresh_token(ZohoToken.objects.get(pk=row.pk), force=True)  # another worker
    fake_zoho.reset_counters()
    servers: dict = {}
    outcome = refreshes._refresh_one(
        stale, within=600, servers=servers, source=AuditSource.TASK, actor=None
    )
    assert outcome is not None
    assert outcome.status == "not_due" and fake_zoho.counters["refresh"] == 0
    assert outcome.row.expiry_time != stale.expiry_time


@pytest.mark.django_db(transaction=True)
def test_four_worker_processes_refresh_each_due_token_exactly_once(fake_zoho, live_token):
    fake_zoho.token_latency = 0.05  # Zoho takes its time: the workers overlap
    due, _later = due_and_later(live_token, 24, 4)
    fake_zoho.reset_counters()
    env = child_env(fake_zoho.url)
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "zoho_tokens", "refresh", "--expiring-within", "600"]
            + ["--shard", f"{i}/4"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for i in range(1, 5)
    ]
    results = [(w.communicate(timeout=300), w.returncode) for w in workers]

    assert [code for _output, code in results] == [0, 0, 0, 0], results
    refreshed = TokenAuditEvent.objects.filter(action="refreshed").values_list(
        "token_id", flat=True
    )
    assert Counter(refreshed) == {row.pk: 1 for row in due}  # 0 double refreshes, none missed
    assert fake_zoho.counters["refresh"] == len(due)
    per_worker = [out.count(": refreshed,") for (out, _err), _code in results]
    assert sum(per_worker) == len(due) and sum(1 for n in per_worker if n) >= 3, per_worker
    assert all("not due" not in out for (out, _err), _code in results)  # nobody's leftovers
