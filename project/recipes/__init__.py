"""Scheduler recipes that the docs' "Refresh from a scheduler" guide includes whole.

Each file is what a project would write; ``tests/test_recipes.py`` runs each one for real
(a cron line in a shell, a Celery worker, Django's ``db_worker``, a Huey consumer) and checks
that the guide includes it unchanged.
"""
