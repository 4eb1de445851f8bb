"""Settings of the django-tenants suite (``tests/test_django_tenants.py``), PostgreSQL only.

The test settings with django-tenants: one schema per tenant (``tests.customers.Client``),
the public schema for the shared apps. ``ZOHO_TOKENS_TENANTS_MODE`` picks where zoho_tokens
lives:

- ``tenant`` (default): in ``TENANT_APPS``, so every tenant schema has its own tables and the
  public schema has none;
- ``shared``: in ``SHARED_APPS``, one table in the public schema whose ``tenant`` column is
  the django-tenants tenant (``ZOHO_TOKENS["TENANT_FROM_SCHEMA"]``).

    DJANGO_SETTINGS_MODULE=tests.django_tenants_settings ZOHO_TOKENS_TENANTS_MODE=tenant \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test_tenants \\
    .venv/bin/python -m pytest tests/test_django_tenants.py --create-db
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, MIDDLEWARE, ZOHO_TOKENS

ZOHO_TOKENS_TENANTS_MODE = os.environ.get("ZOHO_TOKENS_TENANTS_MODE", "tenant")
if ZOHO_TOKENS_TENANTS_MODE not in ("tenant", "shared"):
    raise RuntimeError("ZOHO_TOKENS_TENANTS_MODE must be 'tenant' or 'shared'")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("django-tenants needs PostgreSQL: set DATABASE_URL=postgres://...")

DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
PUBLIC_SCHEMA_URLCONF = "project.urls"
ALLOWED_HOSTS = [".localhost", "testserver"]

SHARED_APPS = [
    "django_tenants",
    "tests.customers",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
if ZOHO_TOKENS_TENANTS_MODE == "tenant":
    TENANT_APPS = ["zoho_tokens"]
else:
    SHARED_APPS.append("zoho_tokens")
    TENANT_APPS = ["django.contrib.contenttypes"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware", *MIDDLEWARE]
ZOHO_TOKENS = {**ZOHO_TOKENS}
# Users and permissions are shared across schemas: connecting is decided per tenant (a
# tenant-blind permission name is check E031).
ZOHO_TOKENS["CONNECT_PERMISSION"] = "tests.helpers.connectors"
if ZOHO_TOKENS_TENANTS_MODE == "shared":
    ZOHO_TOKENS["TENANT_FROM_SCHEMA"] = True
