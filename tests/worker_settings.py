"""Settings of the fault workers (``tests/test_faults.py``, ``bench/bench_faults.py``).

The demo project's settings, plus what the fault runs vary, from the environment:

- ``ZOHO_TOKENS_HTTP_TIMEOUT``: a small ``HTTP_TIMEOUT`` (the lease is ``HTTP_TIMEOUT + 4 s``);
- ``ZOHO_TOKENS_TEST_REPLICA=1``: a ``replica`` alias (the same database) and a router that
  sends every read there, as a read-replica setup does;
- ``ZOHO_TOKENS_TEST_APPLICATION_NAME``: PostgreSQL ``application_name`` of the workers'
  connections, so a bench can find (and kill) its own connections and nobody else's;
- ``ZOHO_TOKENS_TEST_STATEMENT_TIMEOUT``: a PostgreSQL ``statement_timeout`` (ms) for the
  workers' own sessions, as managed databases and PgBouncer setups set one;
- ``ZOHO_TOKENS_TEST_CLOCK_SKEW``: seconds this process's ``time.time`` runs off (a container
  with a drifting clock); the database's clock is not affected.
"""

import os
import time

from project.settings import *  # noqa: F403
from project.settings import DATABASES, ZOHO_TOKENS

ZOHO_TOKENS = {
    **ZOHO_TOKENS,
    "HTTP_TIMEOUT": float(os.environ.get("ZOHO_TOKENS_HTTP_TIMEOUT", "10")),
}

_app_name = os.environ.get("ZOHO_TOKENS_TEST_APPLICATION_NAME")
if _app_name and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = _app_name

_statement_timeout = os.environ.get("ZOHO_TOKENS_TEST_STATEMENT_TIMEOUT")
if _statement_timeout and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={int(_statement_timeout)}"
    )

_skew = float(os.environ.get("ZOHO_TOKENS_TEST_CLOCK_SKEW") or 0)
if _skew:
    _real_time = time.time
    time.time = lambda: _real_time() + _skew

if os.environ.get("ZOHO_TOKENS_TEST_REPLICA"):
    DATABASES["replica"] = {**DATABASES["default"]}
    DATABASE_ROUTERS = ["tests.worker_settings.ReplicaRouter"]


class ReplicaRouter:
    """Reads from ``replica``, writes to ``default``: token state must ignore the reads."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
