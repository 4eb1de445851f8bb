"""The scale recipes in ``project/recipes/`` (quoted by docs/explanation/scale.md), run for real:
the nightly ``prune-audit`` cron line in a shell, and the Celery recipe that fans a sweep out
over shards (and prunes nightly) on a real worker with four threads."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.utils import timezone

from tests.helpers import ROOT, child_env
from zoho_tokens.models import TokenAuditEvent

RECIPES = ROOT / "project" / "recipes"

pytestmark = pytest.mark.usefixtures("cmd_settings")


@pytest.mark.django_db(transaction=True)
def test_nightly_prune_cron_line_runs_silently():
    lines = [
        line
        for line in (RECIPES / "crontab-prune-audit").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert len(lines) == 1
    *schedule, command = lines[0].split(None, 5)
    assert schedule == ["17", "3", "*", "*", "*"]
    command = command.replace("/srv/myproject", shlex.quote(str(ROOT)))
    command = command.replace(".venv/bin/python", shlex.quote(sys.executable))
    old = TokenAuditEvent.objects.create(action="refreshed", token_id="1")
    TokenAuditEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=401)
    )
    new = TokenAuditEvent.objects.create(action="refreshed", token_id="1")

    result = subprocess.run(
        ["/bin/sh", "-c", command], env=child_env(None), capture_output=True, text=True
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert list(TokenAuditEvent.objects.values_list("pk", flat=True)) == [new.pk]


@pytest.mark.django_db(transaction=True)
def test_celery_sweep_fans_out_over_shards_on_real_workers(fake_zoho, live_token):
    pytest.importorskip("celery")
    from celery.beat import Scheduler
    from celery.contrib.testing.worker import start_worker

    from project.recipes.celery_scale import SHARDS, app

    fake_zoho.token_latency = 0.05
    due = [live_token(f"d{n}@example.com:70000{n:04d}", expires_in_ms=120_000) for n in range(12)]
    later = live_token("late@example.com:710000001", expires_in_ms=3_000_000)
    old = TokenAuditEvent.objects.create(action="refreshed", token_id=later.pk)
    TokenAuditEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=401)
    )

    with start_worker(app, pool="threads", concurrency=SHARDS, perform_ping_check=False):
        scheduler = Scheduler(app, lazy=True)
        scheduler.setup_schedule()
        sweep = scheduler.schedule["sweep-zoho-tokens"]
        assert sweep.schedule.run_every == dt.timedelta(seconds=300)
        scheduler.apply_async(sweep).get(timeout=30)  # the sweep only fans out
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = TokenAuditEvent.objects.filter(action="refreshed", source="task").count()
            if done >= len(due):
                break
            time.sleep(0.2)
        time.sleep(0.5)  # a double refresh would show up now
        prune = scheduler.schedule["prune-zoho-audit"]
        assert (prune.schedule.hour, prune.schedule.minute) == ({3}, {17})
        pruned = scheduler.apply_async(prune).get(timeout=30)

    refreshed = TokenAuditEvent.objects.filter(action="refreshed", source="task")
    by_token = Counter(refreshed.values_list("token_id", flat=True))
    assert by_token == {row.pk: 1 for row in due}  # each due token once, the later one never
    assert pruned["deleted"] == 1 and not TokenAuditEvent.objects.filter(pk=old.pk).exists()
