"""The docs' "Refresh from a scheduler" guide: each recipe, included whole, run for real.

The recipes live in ``project/recipes/``; the guide includes each file whole (checked here), and
each is run the way a project runs it: the cron line in a shell, the Celery task sent by
beat's scheduler to a real worker thread (in-memory broker), the Django task enqueued and
run by ``db_worker`` (django-tasks-db), the Huey periodic task run by a real consumer
thread. A recipe whose package is missing (``requirements-recipes.txt``) is skipped.
"""

from __future__ import annotations

import datetime as dt
import shlex
import signal
import subprocess
import sys
import threading

import pytest
from django.core.management import call_command

from tests.helpers import ROOT, child_env
from zoho_tokens.models import TokenAuditEvent, ZohoToken

RECIPES = ROOT / "project" / "recipes"

pytestmark = pytest.mark.usefixtures("cmd_settings")


def recipe(name: str) -> str:
    return (RECIPES / name).read_text()


@pytest.mark.parametrize("name", ["crontab", "celery_app.py", "django_task.py", "huey_tasks.py"])
def test_the_guide_includes_each_recipe_whole(name):
    guide = (ROOT / "docs" / "how-to" / "schedulers.md").read_text()
    assert f'--8<-- "project/recipes/{name}"' in guide, f"the guide lost project/recipes/{name}"


def assert_refreshed(result: dict, soon: ZohoToken) -> None:
    assert result["ok"] is True
    assert [(o["token_id"], o["status"]) for o in result["outcomes"]] == [(soon.pk, "refreshed")]
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time


# -- cron ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cron_line_runs_and_mails_only_trouble(fake_zoho, live_token):
    lines = [line for line in recipe("crontab").splitlines() if not line.startswith("#")]
    assert len(lines) == 1
    *schedule, command = lines[0].split(None, 5)
    assert schedule == ["*/5", "*", "*", "*", "*"]
    # Run the line as cron would, in this checkout with this interpreter.
    command = command.replace("/srv/myproject", shlex.quote(str(ROOT)))
    command = command.replace(".venv/bin/python", shlex.quote(sys.executable))
    env = child_env(fake_zoho.url)

    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")  # nothing mailed
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time

    bad = live_token("bob@example.com:700000001", expires_in_ms=60_000, invalid_reason="x")
    result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{bad.pk} (bob@example.com:700000001): invalid: ")


# -- Celery beat and a worker -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_celery_beat_entry_runs_on_a_real_worker(fake_zoho, live_token):
    pytest.importorskip("celery")
    from celery.beat import Scheduler
    from celery.contrib.testing.worker import start_worker

    from project.recipes.celery_app import app

    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    live_token("bob@example.com:700000001", expires_in_ms=3_000_000)  # not due
    assert app.conf.broker_url == "memory://"  # from tests.settings, via CELERY_ namespace

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        scheduler = Scheduler(app, lazy=True)
        scheduler.setup_schedule()
        entry = scheduler.schedule["refresh-zoho-tokens"]
        assert entry.schedule.run_every == dt.timedelta(seconds=300)
        result = scheduler.apply_async(entry)  # what beat does when the entry is due
        data = result.get(timeout=30)

    assert_refreshed(data, soon)


# -- Django's @task with the database backend and its worker -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_django_task_runs_in_db_worker(fake_zoho, live_token):
    pytest.importorskip("django_tasks_db")
    from project.recipes.django_task import refresh_zoho_tokens

    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    live_token("bob@example.com:700000001", expires_in_ms=3_000_000)  # not due

    result = refresh_zoho_tokens.enqueue()
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time == soon.expiry_time  # only queued
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    result.refresh()
    assert result.status == "SUCCESSFUL", result.errors
    assert_refreshed(result.return_value, soon)


# -- Huey (Django integration) with a real consumer --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_huey_periodic_task_runs_in_a_consumer(fake_zoho, live_token):
    pytest.importorskip("huey")
    from huey.contrib.djhuey import HUEY
    from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

    from project.recipes.huey_tasks import refresh_zoho_tokens

    every_5_minutes = refresh_zoho_tokens.task_class()
    assert every_5_minutes.validate_datetime(dt.datetime(2026, 1, 1, 10, 5))
    assert not every_5_minutes.validate_datetime(dt.datetime(2026, 1, 1, 10, 7))

    soon = live_token("ann@example.com:700000001", expires_in_ms=120_000)
    later = live_token("bob@example.com:700000001", expires_in_ms=3_000_000)  # not due

    done, seen = threading.Event(), []

    @HUEY.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
    def finished(huey_signal, task, exc=None):
        seen.append((huey_signal, task.name, exc))
        done.set()

    consumer = HUEY.create_consumer(workers=1, worker_type="thread", periodic=False)
    handlers = {signum: signal.getsignal(signum) for signum in consumer._signal_actions}
    consumer.start()  # the worker thread; it also takes over SIGINT/SIGTERM/SIGHUP
    try:
        refresh_zoho_tokens()  # what the consumer's scheduler enqueues every 5 minutes
        assert done.wait(30), "the consumer did not run the task"
    finally:
        consumer.stop(graceful=True)
        HUEY.disconnect_signal(finished)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)

    # Huey keeps no result of a periodic task: the stored rows tell what it did.
    assert seen == [(SIGNAL_COMPLETE, "refresh_zoho_tokens", None)]
    assert ZohoToken.objects.get(pk=soon.pk).expiry_time > soon.expiry_time
    assert ZohoToken.objects.get(pk=later.pk).expiry_time == later.expiry_time
    assert TokenAuditEvent.objects.filter(action="refreshed", source="task").count() == 1
