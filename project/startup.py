"""What a server process checks before it serves: a real ``SECRET_KEY``.

``project.settings`` leaves ``SECRET_KEY`` empty when none is configured and ``DEBUG`` is off,
so tools that need no key (``migrate``, ``check``, ``makemigrations``) still run; serving
without one is refused here, in one clear line, before the first request.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:
        key = ""
    if not key:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set the SECRET_KEY environment variable (for local "
            "development, DEBUG=1 gives each process a random one)"
        )
