"""Scheduler recipes that README's "Refreshing ahead from a scheduler" quotes verbatim.

Each file is what a project would write; ``tests/test_recipes.py`` runs each one for real
(a cron line in a shell, a Celery worker, Django's ``db_worker``, a Huey consumer) and checks
that README quotes it unchanged.
"""
