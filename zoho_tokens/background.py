"""Work that must never hold up (or fail) the operation that caused it: revoking a replaced
refresh token after a reconnect, posting a webhook after a refresh failed.

A daemon thread per job, its own database connection closed at the end. Errors are logged by
type only (their arguments may hold a token). ``join()`` lets tests and short-lived commands
wait for what was started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

logger = logging.getLogger("zoho_tokens")

_running: set[threading.Thread] = set()
_lock = threading.Lock()


def submit(job: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
    """Run ``job(*args, **kwargs)`` in a daemon thread, now; never raises."""

    def run() -> None:
        try:
            job(*args, **kwargs)
        except Exception as exc:
            logger.error(
                "zoho_tokens: background job %s failed: %s",
                getattr(job, "__qualname__", job),
                type(exc).__name__,
            )
        finally:
            connections.close_all()  # this thread's connections only
            with _lock:
                _running.discard(thread)

    thread = threading.Thread(target=run, name="zoho_tokens-background", daemon=True)
    with _lock:
        _running.add(thread)
    thread.start()
    return thread


def join(timeout: float = 30.0) -> bool:
    """Wait for the jobs started so far; False if one is still running after ``timeout``."""
    with _lock:
        threads = list(_running)
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
