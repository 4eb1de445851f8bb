# myproject/celery.py at scale: every 5 minutes beat starts a sweep that fans out as a group
# of SHARDS tasks, each refreshing its own share of the due tokens (no token twice), run in
# parallel by your worker processes; every night the audit trail is pruned.
#   celery -A myproject worker --concurrency 4   and   celery -A myproject beat
import os

from celery import Celery, group
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")

app = Celery("myproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SHARDS = 4  # at least as many as the worker processes that may sweep at once


@app.task(name="zoho_tokens.refresh_expiring_shard")
def refresh_zoho_tokens_shard(within=600, shard="1/1"):
    from zoho_tokens.tasks import refresh_expiring  # once Django's apps are loaded

    return refresh_expiring(within=within, shard=shard).as_dict()


@app.task(name="zoho_tokens.sweep")
def sweep_zoho_tokens(within=600, shards=SHARDS):
    tasks = [refresh_zoho_tokens_shard.s(within, f"{i}/{shards}") for i in range(1, shards + 1)]
    return group(tasks).apply_async().id


@app.task(name="zoho_tokens.prune_audit")
def prune_zoho_audit():
    from zoho_tokens.tasks import prune_audit

    return prune_audit().as_dict()  # rows older than AUDIT_RETENTION_DAYS, in short batches


app.conf.beat_schedule = {
    "sweep-zoho-tokens": {
        "task": "zoho_tokens.sweep",
        "schedule": 300.0,  # seconds: more often than `within`, so nothing expires between runs
        "kwargs": {"within": 600},
    },
    "prune-zoho-audit": {"task": "zoho_tokens.prune_audit", "schedule": crontab(hour=3, minute=17)},
}
