"""Audit retention: ``AUDIT_RETENTION_DAYS``, ``zoho_tokens prune-audit`` over
``services.prune_audit`` (batched deletes by primary key ranges), and the scheduler task."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.helpers import TTY, command_output
from zoho_tokens import services, tasks
from zoho_tokens.checks import CheckId
from zoho_tokens.models import TokenAuditEvent

pytestmark = pytest.mark.django_db


def events(days_ago: int, n: int, **fields) -> list[int]:
    """``n`` audit rows created ``days_ago`` days ago; their primary keys."""
    made = TokenAuditEvent.objects.bulk_create(
        TokenAuditEvent(action="refreshed", token_id=f"t{i}", **fields) for i in range(n)
    )
    pks = [e.pk for e in made] or list(
        TokenAuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[:n]
    )
    when = timezone.now() - dt.timedelta(days=days_ago)
    TokenAuditEvent.objects.filter(pk__in=pks).update(created_at=when)
    return pks


def test_default_retention_is_400_days_and_old_rows_go_in_batches():
    old = events(500, 23)
    kept = events(399, 4) + events(0, 3)

    with CaptureQueriesContext(connection) as ctx:
        report = services.prune_audit(batch_size=5)

    assert report.days == 400
    assert report.deleted == 23
    assert set(TokenAuditEvent.objects.values_list("pk", flat=True)) == set(kept)
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].upper().startswith("DELETE")]
    assert len(deletes) == report.batches >= 5  # 23 rows, 5 primary keys per batch
    quoted = [q.replace("`", '"') for q in deletes]  # MySQL/MariaDB quote with backticks
    assert all('"id" >=' in q and '"id" <' in q for q in quoted), deletes
    assert not TokenAuditEvent.objects.filter(pk__in=old).exists()


def test_progress_reaches_the_total():
    events(500, 12)
    seen: list[tuple[int, int]] = []
    services.prune_audit(batch_size=5, progress=lambda done, total: seen.append((done, total)))
    assert [done for done, _total in seen] == sorted(done for done, _total in seen)
    assert seen[-1][0] == seen[-1][1] >= 12


def test_command_dry_run_counts_and_deletes_nothing():
    events(500, 6)
    events(10, 2)
    out, err = command_output("zoho_tokens", "prune-audit", "--dry-run")
    assert "prune-audit (dry run): 6 audit rows older than 400 days" in out
    assert TokenAuditEvent.objects.count() == 8
    out, err = command_output("zoho_tokens", "prune-audit", "--days", "5")
    assert "8 audit rows older than 5 days" in out and "deleted" in out
    assert TokenAuditEvent.objects.count() == 0
    assert err == ""  # no terminal: no progress bar


def test_progress_bar_on_a_terminal_only(monkeypatch):
    events(500, 3)
    terminal = TTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    command_output("zoho_tokens", "prune-audit")
    assert "[" in terminal.getvalue() and "3/3" in terminal.getvalue()


def test_retention_none_keeps_everything(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "AUDIT_RETENTION_DAYS": None}
    events(5000, 3)
    out, _err = command_output("zoho_tokens", "prune-audit")
    assert "retention is off" in out and "--days" in out
    assert TokenAuditEvent.objects.count() == 3
    assert tasks.prune_audit().as_dict()["deleted"] == 0
    assert "3 audit rows" in command_output("zoho_tokens", "prune-audit", "--days", "30")[0]


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_bad_days_is_one_clear_line(value):
    with pytest.raises(CommandError, match="--days: "):
        command_output("zoho_tokens", "prune-audit", "--days", value)


@pytest.mark.parametrize("value", [0, -1, "400", 1.5, True])
def test_a_bad_setting_is_a_check_error(settings, zoho_settings_for, value):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "AUDIT_RETENTION_DAYS": value}
    errors = [m for m in run_checks() if m.id == CheckId.INVALID_AUDIT_RETENTION]
    assert len(errors) == 1 and "AUDIT_RETENTION_DAYS" in errors[0].msg


def test_the_task_returns_json():
    events(500, 2)
    result = tasks.prune_audit()
    data = json.loads(json.dumps(result.as_dict()))
    assert (data["deleted"], data["days"], data["dry_run"]) == (2, 400, False)
    assert data["longest_batch_seconds"] >= 0


def test_nothing_old_means_no_delete():
    events(3, 2)
    with CaptureQueriesContext(connection) as ctx:
        report = services.prune_audit()
    assert (report.deleted, report.batches) == (0, 0)
    assert not [q for q in ctx.captured_queries if q["sql"].upper().startswith("DELETE")]
