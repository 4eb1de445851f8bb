# myapp/tasks.py: a Django task, run by the django-tasks-db worker ("manage.py db_worker").
# settings.py:
#   INSTALLED_APPS += ["django_tasks_db"]  # Django 5.2: also "django_tasks", before it
#   TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Enqueue it every 5 minutes, e.g. from cron (the worker does the refreshing):
#   manage.py shell -c "from myapp.tasks import refresh_zoho_tokens as t; t.enqueue()"
try:
    from django.tasks import task  # Django 6.0+
except ImportError:
    from django_tasks import task  # Django 5.2: the django-tasks backport

from zoho_tokens.tasks import refresh_expiring


@task
def refresh_zoho_tokens(within: int = 600) -> dict:
    return refresh_expiring(within=within).as_dict()  # a task's result must be JSON
