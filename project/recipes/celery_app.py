# myproject/celery.py: Celery beat sends the task every 5 minutes; a worker runs it.
#   celery -A myproject worker   and   celery -A myproject beat
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")

app = Celery("myproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="zoho_tokens.refresh_expiring")
def refresh_zoho_tokens(within=600):
    from zoho_tokens.tasks import refresh_expiring  # once Django's apps are loaded

    return refresh_expiring(within=within).as_dict()  # JSON: any result backend keeps it


app.conf.beat_schedule = {
    "refresh-zoho-tokens": {
        "task": "zoho_tokens.refresh_expiring",
        "schedule": 300.0,  # seconds: more often than `within`, so nothing expires between runs
        "kwargs": {"within": 600},
    },
}
