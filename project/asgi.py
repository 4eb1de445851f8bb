import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_asgi_application()

from project.startup import require_secret_key  # noqa: E402 - settings are loaded now

require_secret_key()
