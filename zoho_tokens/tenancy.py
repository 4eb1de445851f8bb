"""The current tenant, for SaaS backends where every customer connects its own Zoho org.

``DjangoTokenStore()`` without an explicit tenant scopes every call to ``current_tenant()``;
single-tenant installs never set it and use tenant ``""``.

django-tenants (one PostgreSQL schema per tenant) is supported two ways:

- zoho_tokens in ``TENANT_APPS``: each schema has its own tables, the schema is the
  boundary and the ``tenant`` column stays ``""``. ``for_each_schema`` runs a function in
  every tenant schema; ``installed_here()`` says whether the current schema has the tables
  (the public schema has none).
- zoho_tokens in ``SHARED_APPS`` with ``ZOHO_TOKENS["TENANT_FROM_SCHEMA"] = True``: one
  table, and the current tenant is always the connection's schema (``schema_context``,
  ``TenantMainMiddleware``), so code never reads another tenant's tokens by forgetting a
  ``tenant_context``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from zoho_tokens import context
from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import ConfigurationError


def current_tenant() -> str:
    """``tenant_context``'s tenant, or the connection's schema with ``TENANT_FROM_SCHEMA``."""
    if zoho_settings.TENANT_FROM_SCHEMA:
        return tenant_from_connection()
    return context.tenant()


def as_tenant(value: object) -> str:
    """A tenant as stored: a ``str`` as is, an ``int`` as its digits, a model instance as its
    primary key; None is the default tenant ``""``.

    Anything else (``True``/``False``, an arbitrary object) is an error rather than its
    ``str()``: a company object's display name would make two companies called "Acme" share
    one connection, and ``False`` would become a tenant called "False".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    pk = getattr(getattr(value, "_meta", None), "pk", None)
    if pk is not None and hasattr(value, "pk"):
        key = value.pk  # type: ignore[attr-defined]
        if key is not None and not isinstance(key, bool):
            return str(key)
        raise ConfigurationError(
            f"a tenant given as a {type(value).__name__} instance needs a saved primary key",
            code="tenant_type",
        )
    raise ConfigurationError(
        f"a tenant must be a str, an int or a model instance (its primary key), not a "
        f"{type(value).__name__}",
        code="tenant_type",
    )


@contextmanager
def tenant_context(tenant: str | int | None) -> Iterator[str]:
    """``with tenant_context("acme"):`` runs the block as tenant ``acme`` (None: default).

    Kept in ``zoho_tokens.context``: each thread and each asyncio task sees its own tenant.
    """
    value = as_tenant(tenant)
    if zoho_settings.TENANT_FROM_SCHEMA:
        schema_tenant = tenant_from_connection()
        if value != schema_tenant:
            # The schema decides; running tenant "b"'s Zoho user inside schema "a" would
            # mix two customers' data.
            raise ConfigurationError(
                f"tenant {value!r} asked for inside schema tenant {schema_tenant!r}: switch "
                f"schemas with django-tenants' schema_context({value or 'public'!r}) instead",
                code="tenant",
            )
    with context.as_tenant(value):
        yield value


class TenantMiddleware:
    """Sets the current tenant per request from ``ZOHO_TOKENS["TENANT_RESOLVER"]``.

    The resolver is a dotted path to a callable taking the request and returning the tenant:
    a ``str``, an ``int`` or a model instance (its primary key); None or "" for the default
    tenant. Anything else (a bool, another object) is a ``ConfigurationError`` (code
    ``tenant_type``). Put the middleware after ``AuthenticationMiddleware`` so the resolver can
    read ``request.user``. The tenant is also set as ``request.zoho_tenant``.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if zoho_settings.TENANT_FROM_SCHEMA:
            tenant = tenant_from_connection()
        else:
            resolver = _resolver()
            tenant = _resolved_tenant(resolver, request) if resolver else ""
        request.zoho_tenant = tenant
        with tenant_context(tenant):
            return self.get_response(request)


def _resolved_tenant(resolver: Callable[[Any], Any], request: Any) -> str:
    """The resolver's answer as a tenant; a clear error naming the resolver otherwise."""
    answer = resolver(request)
    try:
        return as_tenant(answer)
    except ConfigurationError as exc:
        name = getattr(resolver, "__qualname__", repr(resolver))
        problem = exc
    raise ConfigurationError(
        f"ZOHO_TOKENS['TENANT_RESOLVER'] ({name}) returned {type(answer).__name__} "
        f"{str(answer)[:40]!r}: {problem}; return None for no tenant",
        code="tenant_type",
    )


def _resolver() -> Callable[[Any], str | None] | None:
    """``TENANT_RESOLVER``, imported once by the settings object (not on every request)."""
    return zoho_settings.TENANT_RESOLVER


# -- django-tenants -------------------------------------------------------------------------


def _database() -> Any:
    from django.db import connections

    from zoho_tokens.models import token_db

    return connections[token_db()]


def _public_schema() -> str:
    from django.conf import settings

    return str(getattr(settings, "PUBLIC_SCHEMA_NAME", "public"))


def tenant_from_connection() -> str:
    """The tenant of the database connection's current django-tenants schema.

    The schema name (``connection.tenant.schema_name``); the public schema is the default
    tenant ``""``. Raises ``ConfigurationError`` (code ``tenant``) when the database backend is not
    django-tenants' (there is no schema to read).
    """
    conn = _database()
    if not hasattr(conn, "set_schema"):
        raise ConfigurationError(
            "ZOHO_TOKENS['TENANT_FROM_SCHEMA'] needs django-tenants' database backend "
            "(ENGINE 'django_tenants.postgresql_backend')",
            code="tenant",
        )
    tenant = getattr(conn, "tenant", None)
    schema = getattr(tenant, "schema_name", None) or conn.schema_name or _public_schema()
    return "" if schema == _public_schema() else str(schema)


def django_tenants_resolver(request: Any) -> str | None:
    """A ``TENANT_RESOLVER`` for django-tenants: the schema of the request's tenant.

    ``TenantMainMiddleware`` sets ``request.tenant`` from the host name; the public schema
    (and a request without a tenant) is no tenant.
    """
    tenant = getattr(request, "tenant", None)
    schema = getattr(tenant, "schema_name", None)
    if not schema or schema == _public_schema():
        return None
    return str(schema)


def permissions_shared_across_schemas() -> bool:
    """django-tenants serves the token database and ``django.contrib.auth`` is not a tenant
    app: one user table and one set of permissions for every tenant's host."""
    from django.conf import settings

    if schema_name() is None:
        return False
    return "django.contrib.auth" not in getattr(settings, "TENANT_APPS", ())


def installed_here(using: str | None = None) -> bool:
    """Whether the current schema has zoho_tokens' tables.

    Asks the database routers, as ``migrate`` did when it created (or skipped) them: with
    django-tenants and zoho_tokens in ``TENANT_APPS``, the public schema has none; in
    ``SHARED_APPS``, every schema sees the public schema's. Without routers that say
    otherwise, always True.
    """
    from django.apps import apps
    from django.conf import settings
    from django.db import router

    from zoho_tokens.models import ZohoToken, token_db

    if router.allow_migrate_model(using or token_db(), ZohoToken):
        return True
    # A shared app's tables are in the public schema, which django-tenants keeps on every
    # tenant schema's search path.
    config = apps.get_app_config(ZohoToken._meta.app_label)
    shared = getattr(settings, "SHARED_APPS", ())
    return config.name in shared or f"{type(config).__module__}.{type(config).__name__}" in shared


def schema_name(using: str | None = None) -> str | None:
    """The connection's django-tenants schema, or None without django-tenants."""
    from django.db import connections

    from zoho_tokens.models import token_db

    conn = connections[using or token_db()]
    if not hasattr(conn, "set_schema"):
        return None
    return str(getattr(conn, "schema_name", None) or _public_schema())


def tenant_schemas() -> list[str]:
    """The schema of every tenant of django-tenants' tenant model, by name."""
    from django_tenants.utils import get_tenant_model

    tenants = get_tenant_model().objects.order_by("schema_name")
    return list(tenants.values_list("schema_name", flat=True))


@dataclass
class SchemaResult:
    """What ``for_each_schema`` got in one schema: the function's result, or its error."""

    schema: str
    result: Any = None
    error: BaseException | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped


def for_each_schema(func: Callable[[], Any], *, include_public: bool = False) -> list[SchemaResult]:
    """Run ``func()`` in every django-tenants tenant schema, each in ``schema_context``.

    One schema's exception is caught and reported in its ``SchemaResult``; the next schema
    still runs. Schemas without zoho_tokens' tables (the public schema when zoho_tokens is a
    tenant app) are reported as skipped. The public schema is left out unless
    ``include_public``. For a periodic refresh of every tenant::

        from zoho_tokens import services
        from zoho_tokens.context import AuditSource
        from zoho_tokens.tenancy import for_each_schema

        results = for_each_schema(
            lambda: services.refresh_tokens([], expiring_within=600, source=AuditSource.TASK)
        )
        failed = [r.schema for r in results if r.error or not r.result.ok]
    """
    from django_tenants.utils import schema_context

    public = _public_schema()
    schemas = tenant_schemas()
    if include_public and public not in schemas:
        schemas.insert(0, public)
    results: list[SchemaResult] = []
    for schema in schemas:
        if schema == public and not include_public:
            continue
        with schema_context(schema):
            if not installed_here():
                results.append(SchemaResult(schema, skipped=True))
                continue
            try:
                results.append(SchemaResult(schema, result=func()))
            except Exception as exc:  # one schema must not stop the others
                results.append(SchemaResult(schema, error=exc))
    return results
