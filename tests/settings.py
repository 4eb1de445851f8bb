"""Settings of the test suite: the demo project's, with a ``SECRET_KEY`` of this test run.

``project.settings`` has no default ``SECRET_KEY`` (and ``DEBUG`` is off by default). The
suite makes one up per run and puts it in the environment, so the ``manage.py`` and worker
processes that tests start (which read ``project.settings``) derive the same keys.
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", "zoho-tokens-tests-" + secrets.token_urlsafe(48))

from project.settings import *  # noqa: F403
