"""Settings of the test suite: the demo project's, with a ``SECRET_KEY`` of this test run.

``project.settings`` has no default ``SECRET_KEY`` (and ``DEBUG`` is off by default). The
suite makes one up per run and puts it in the environment, so the ``manage.py`` and worker
processes that tests start (which read ``project.settings``) derive the same keys.

The scheduler recipes (``project/recipes``, ``tests/test_recipes.py``) use the settings at the
end when ``requirements-recipes.txt`` is installed; without it those tests skip.
"""

import os
import secrets
from importlib.util import find_spec

os.environ.setdefault("SECRET_KEY", "zoho-tokens-tests-" + secrets.token_urlsafe(48))

from project.settings import *  # noqa: F403

if find_spec("django_tasks_db"):
    if not find_spec("django.tasks"):  # Django 5.2: the django-tasks backport
        INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks"]  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Celery: an in-memory broker and result backend, served by a real worker thread.
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
# Huey's Django integration: an in-memory queue, served by a real consumer thread.
HUEY = {"huey_class": "huey.MemoryHuey", "name": "zoho-tokens-tests", "immediate": False}
