"""The scale recipes in ``project/recipes/`` (quoted by docs/explanation/scale.md), run for real:
the nightly ``prune-audit`` cron line in a shell."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys

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
