"""Settings of the zoho-tokens demo project, read from the environment (django-environ).

Every name is optional; a ``.env`` file next to manage.py is read when present. Safe by
default: ``DEBUG`` is off and there is no built-in ``SECRET_KEY`` (a server refuses to start
without one unless ``DEBUG`` is on); ``python -m project.demo`` turns both on for its own
process.
"""

from pathlib import Path

import django
import environ
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    ZOHO_TOKENS_ENCRYPTION_KEYS=(list, []),
    ZOHO_TOKENS_REFRESH_AHEAD_SECONDS=(int, 60),
    ZOHO_TOKENS_NOTIFY=(list, []),
    DJANGO_ADMINS=(list, []),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
# No default: a key in the source is public, and sessions (and tokens encrypted with a key
# derived from it) would be open to anyone. Servers refuse to start without one (project/
# wsgi.py, asgi.py) unless DEBUG is on; then this process makes up its own.
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = get_random_secret_key()
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "zoho_tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "zoho_tokens.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside a writer; the busy timeout makes writers queue instead of
    # failing with "database is locked" when several processes share the file.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("timeout", 20)
    _db["OPTIONS"].setdefault(
        "init_command",
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    )
    # IMMEDIATE: a transaction takes the write lock when it begins, so two writers queue on
    # the busy timeout instead of one failing when it upgrades from reading to writing.
    _db["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Tests use a file, not :memory:, so that the multi-process tests share the database.
    _db.setdefault("TEST", {}).setdefault(
        "NAME", env("ZOHO_TOKENS_TEST_SQLITE_FILE", default=str(BASE_DIR / "test-db.sqlite3"))
    )
elif _db["ENGINE"] == "django.db.backends.mysql":
    # utf8mb4 for any user name. zoho_tokens gives its identity columns a binary, no-pad
    # collation itself (migration), whatever the database's default.
    _db.setdefault("OPTIONS", {}).setdefault("charset", "utf8mb4")
    if not env.bool("ZOHO_TOKENS_TEST_MYSQL_DEFAULT_COLLATION", default=False):
        _db.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"})
    # else: the test database is created with the server's default character set and
    # collation (no clause), as most production databases are: CI proves tenants and user
    # names stay exact there too.

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

ZOHO_TOKENS = {
    "CLIENT_ID": env("ZOHO_CLIENT_ID", default=None),
    "CLIENT_SECRET": env("ZOHO_CLIENT_SECRET", default=None),
    "REDIRECT_URL": env("ZOHO_REDIRECT_URL", default=None),
    "DATA_CENTER": env("ZOHO_DATA_CENTER", default="us"),
    "ENVIRONMENT": env("ZOHO_ENVIRONMENT", default="production"),
    "ACCOUNTS_URL": env("ZOHO_ACCOUNTS_URL", default=None),
    "API_DOMAIN": env("ZOHO_API_DOMAIN", default=None),
    "ENCRYPTION_KEYS": env("ZOHO_TOKENS_ENCRYPTION_KEYS"),
    "REFRESH_AHEAD_SECONDS": env("ZOHO_TOKENS_REFRESH_AHEAD_SECONDS"),
    # Who hears when a connection fails, dies or recovers, e.g. "mail_admins" (the demo's).
    "NOTIFY": env("ZOHO_TOKENS_NOTIFY"),
}

# Where mail_admins notifications go: DJANGO_ADMINS=ops@example.com,...; the demo prints mail
# to the console (EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend). Django 6.0
# takes plain addresses in ADMINS (pairs are deprecated), 6.1 configures mail in MAILERS.
_email_backend = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
if django.VERSION >= (6, 0):
    ADMINS = list(env("DJANGO_ADMINS"))
else:
    ADMINS = [(address, address) for address in env("DJANGO_ADMINS")]
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": _email_backend}}
else:
    EMAIL_BACKEND = _email_backend

# The demo (python -m project.demo) runs a fake Zoho here; its demo page lists the fake's
# fresh grant codes. Unset in a real deployment.
DEMO_FAKE_ZOHO_URL = env("ZOHO_TOKENS_DEMO_FAKE_URL", default=None)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "zoho_tokens": {
            "handlers": ["console"],
            "level": env("ZOHO_TOKENS_LOG_LEVEL", default="WARNING"),
        },
    },
}
