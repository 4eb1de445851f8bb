"""System checks for misconfiguration that would otherwise show up as lost tokens later.

Check ids are named constants (as django-axes does), so code and tests never spell them.
Each check reads the raw setting (``zoho_settings.raw``): a wrong value is reported here
instead of failing at its first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections, router
from django.db.models import Count
from django.utils.module_loading import import_string

from zoho_tokens import collation, crypto, tenancy
from zoho_tokens.conf import key_list, zoho_settings
from zoho_tokens.datacenters import DATA_CENTERS, ENVIRONMENTS
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.models import ZohoToken, token_db
from zoho_tokens.notify.base import BUILT_IN
from zoho_tokens.zohosdk import AVAILABLE as SDK_AVAILABLE
from zoho_tokens.zohosdk import SDK_DISTRIBUTIONS


class CheckId:
    INVALID_ENCRYPTION_KEY = "zoho_tokens.E001"
    NO_ENCRYPTION_KEY = "zoho_tokens.E002"
    SDK_MISSING = "zoho_tokens.E003"
    UNKNOWN_DATA_CENTER = "zoho_tokens.E004"
    UNKNOWN_ENVIRONMENT = "zoho_tokens.E005"
    REFRESH_AHEAD_TOO_SMALL = "zoho_tokens.E006"
    UNKNOWN_DATABASE = "zoho_tokens.E007"
    SEVERAL_SDK_MAJORS = "zoho_tokens.E008"
    IDENTITY_COLLATION = "zoho_tokens.E010"
    INSECURE_SECRET_KEY = "zoho_tokens.E011"
    INVALID_CONNECT_PERMISSION = "zoho_tokens.E012"
    SCHEMA_TENANT_WITHOUT_DJANGO_TENANTS = "zoho_tokens.E013"
    INVALID_AUDIT_RETENTION = "zoho_tokens.E025"
    UNKNOWN_NOTIFIER = "zoho_tokens.E020"
    WEBHOOK_INCOMPLETE = "zoho_tokens.E021"
    TENANT_BLIND_CONNECT_PERMISSION = "zoho_tokens.E031"
    INVALID_CONNECT_RATE_LIMIT = "zoho_tokens.E032"
    DERIVED_ENCRYPTION_KEY = "zoho_tokens.W001"
    READS_ROUTED_ELSEWHERE = "zoho_tokens.W002"
    ROWS_ON_DERIVED_KEY = "zoho_tokens.W010"
    UNREADABLE_ROWS = "zoho_tokens.W011"
    NO_KEY_AT_ALL = "zoho_tokens.W012"
    ROWS_ON_OLD_KEY = "zoho_tokens.W031"
    CONNECTIONS_LACK_SCOPES = "zoho_tokens.W024"


@register(Tags.security, deploy=False)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    try:
        keys = key_list(zoho_settings.raw("ENCRYPTION_KEYS"))
    except TypeError:
        keys = ["(not a list)"]
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except Exception:
            messages.append(
                Error(
                    f"ZOHO_TOKENS['ENCRYPTION_KEYS'][{index}] is not a valid Fernet key.",
                    hint="Generate one with: python -c 'from cryptography.fernet import "
                    "Fernet; print(Fernet.generate_key().decode())'",
                    id=CheckId.INVALID_ENCRYPTION_KEY,
                )
            )
    if not keys:
        hint = (
            "Set ZOHO_TOKENS['ENCRYPTION_KEYS'] in your settings to a list holding a "
            "dedicated Fernet key (see docs/how-to/install.md); tokens stored before "
            "stay readable, and 'python manage.py zoho_tokens rotate-keys' moves them to it."
        )
        if not crypto.secret_key():
            # Nothing can be encrypted or read, but tools that do not touch tokens (migrate,
            # makemigrations, check) may still run; servers of the demo project refuse to
            # start without SECRET_KEY anyway.
            messages.append(
                Warning(
                    "Neither ZOHO_TOKENS['ENCRYPTION_KEYS'] nor SECRET_KEY is set: Zoho tokens "
                    "can be neither stored nor read.",
                    hint=hint,
                    id=CheckId.NO_KEY_AT_ALL,
                )
            )
            return messages
        message = (
            "ZOHO_TOKENS['ENCRYPTION_KEYS'] is not set: tokens are encrypted with a key "
            "derived from SECRET_KEY, so changing SECRET_KEY (without keeping the old one in "
            "SECRET_KEY_FALLBACKS) makes them unreadable."
        )
        if settings.DEBUG:
            messages.append(Warning(message, hint=hint, id=CheckId.DERIVED_ENCRYPTION_KEY))
        else:
            messages.append(Error(message, hint=hint, id=CheckId.NO_ENCRYPTION_KEY))
        if crypto.insecure_secret_key():
            messages.append(
                Error(
                    "SECRET_KEY is a 'django-insecure-' placeholder and DEBUG is off: "
                    "zoho_tokens refuses to encrypt tokens with a key derived from it (anyone "
                    "who knows the placeholder could decrypt a copy of the database).",
                    hint="Set ZOHO_TOKENS['ENCRYPTION_KEYS'] to a dedicated Fernet key (and a "
                    "real SECRET_KEY).",
                    id=CheckId.INSECURE_SECRET_KEY,
                )
            )
    return messages


@register()
def check_sdk_importable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not SDK_AVAILABLE:
        return [
            Error(
                "zoho_tokens is installed but no Zoho CRM Python SDK is importable "
                f"({', '.join(SDK_DISTRIBUTIONS)}).",
                hint='pip install "zoho-tokens[sdk8]" (or [sdk7], [sdk6] for an older major)',
                id=CheckId.SDK_MISSING,
            )
        ]
    return []


def sdk_distributions() -> list[str]:
    """Installed ``zohocrmsdk*`` distributions ("name version"), sorted."""
    found = set()
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("-", "_")  # zohocrmsdk7-0
        if name.startswith("zohocrmsdk"):
            found.add(f"{name} {dist.version}")
    return sorted(found)


@register()
def check_one_sdk_major(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Two SDK majors overwrite each other's files in the one ``zohocrmsdk`` package."""
    installed = sdk_distributions()
    if len(installed) <= 1:
        return []
    names = [entry.split()[0] for entry in installed]
    return [
        Error(
            f"Several Zoho CRM SDK majors are installed ({', '.join(installed)}): they share "
            "the 'zohocrmsdk' package and overwrite each other's files.",
            hint="Keep one: pip uninstall -y "
            + " ".join(names)
            + ' && pip install "zoho-tokens[sdk8]" (or [sdk7], [sdk6]).',
            id=CheckId.SEVERAL_SDK_MAJORS,
        )
    ]


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    dc = str(zoho_settings.raw("DATA_CENTER") or "").lower()
    if dc not in DATA_CENTERS:
        messages.append(
            Error(
                f"ZOHO_TOKENS['DATA_CENTER'] is {dc!r}, not a Zoho data center.",
                hint=f"Use one of: {', '.join(DATA_CENTERS)}.",
                id=CheckId.UNKNOWN_DATA_CENTER,
            )
        )
    env = str(zoho_settings.raw("ENVIRONMENT") or "").lower()
    if env not in ENVIRONMENTS:
        messages.append(
            Error(
                f"ZOHO_TOKENS['ENVIRONMENT'] is {env!r}.",
                hint=f"Use one of: {', '.join(ENVIRONMENTS)}.",
                id=CheckId.UNKNOWN_ENVIRONMENT,
            )
        )
    permission = zoho_settings.raw("CONNECT_PERMISSION")
    problem = _connect_permission_problem(permission)
    if problem:
        messages.append(
            Error(
                f"ZOHO_TOKENS['CONNECT_PERMISSION'] {problem}.",
                hint="Use a permission name such as 'zoho_tokens.add_zohotoken', or a callable "
                "(request, tenant) -> bool (or its dotted path).",
                id=CheckId.INVALID_CONNECT_PERMISSION,
            )
        )
    elif _tenants_configured() and not _permission_is_callable(permission):
        messages.append(
            Error(
                f"ZOHO_TOKENS['CONNECT_PERMISSION'] is {permission!r}, which cannot tell tenants "
                "apart, but the project has tenants (TENANT_RESOLVER, TENANT_FROM_SCHEMA, or "
                "django-tenants with shared users and permissions): a "
                "user allowed to connect Zoho for one tenant could connect it for every "
                "tenant's host. Connecting is refused until it is a callable.",
                hint="Set it to a callable (request, tenant) -> bool (or its dotted path) that "
                "says whether request.user administers that tenant; see "
                "docs/explanation/trust-boundaries.md.",
                id=CheckId.TENANT_BLIND_CONNECT_PERMISSION,
            )
        )
    rate = zoho_settings.raw("CONNECT_RATE_LIMIT")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
        messages.append(
            Error(
                f"ZOHO_TOKENS['CONNECT_RATE_LIMIT'] is {rate!r}: it must be a whole number of "
                "web connects per user and per minute (0 turns the bound off).",
                id=CheckId.INVALID_CONNECT_RATE_LIMIT,
            )
        )
    try:
        ahead = int(zoho_settings.raw("REFRESH_AHEAD_SECONDS"))
    except (TypeError, ValueError):
        ahead = -1
    if ahead <= 5:
        messages.append(
            Error(
                "ZOHO_TOKENS['REFRESH_AHEAD_SECONDS'] must be an integer above 5 (the SDK's own "
                "refresh threshold), or every worker refreshes on its own.",
                id=CheckId.REFRESH_AHEAD_TOO_SMALL,
            )
        )
    retention = zoho_settings.raw("AUDIT_RETENTION_DAYS")
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
    ):
        messages.append(
            Error(
                f"ZOHO_TOKENS['AUDIT_RETENTION_DAYS'] is {retention!r}: it must be a whole "
                "number of days (1 or more), or None to keep audit rows forever.",
                hint="The default is 400 days; 'zoho_tokens prune-audit' deletes older rows.",
                id=CheckId.INVALID_AUDIT_RETENTION,
            )
        )
    return messages


@register(Tags.database)
def check_token_database(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Token state is read where it is written; say so when a router would read elsewhere.

    Also: ``TENANT_FROM_SCHEMA`` needs that database to be django-tenants' (a schema to read).
    """
    alias = zoho_settings.raw("DATABASE")
    if alias and alias not in settings.DATABASES:
        return [
            Error(
                f"ZOHO_TOKENS['DATABASE'] is {alias!r}, which is not in DATABASES.",
                hint=f"Use one of: {', '.join(settings.DATABASES)}.",
                id=CheckId.UNKNOWN_DATABASE,
            )
        ]
    read, used = router.db_for_read(ZohoToken), token_db()
    if zoho_settings.raw("TENANT_FROM_SCHEMA") and not hasattr(connections[used], "set_schema"):
        return [
            Error(
                f"ZOHO_TOKENS['TENANT_FROM_SCHEMA'] is on, but database {used!r} is not "
                "django-tenants': there is no schema to read the tenant from, so every token "
                "lookup would fail.",
                hint="Use ENGINE 'django_tenants.postgresql_backend' for that database, or "
                "turn TENANT_FROM_SCHEMA off and set the tenant with tenant_context / "
                "TENANT_RESOLVER.",
                id=CheckId.SCHEMA_TENANT_WITHOUT_DJANGO_TENANTS,
            )
        ]
    if read != used:
        return [
            Warning(
                f"A database router sends ZohoToken reads to {read!r}; zoho_tokens reads and "
                f"writes token state on {used!r} only (a replica's stale copy would hand out "
                "expired tokens and break the one-refresh-per-expiry guarantee).",
                hint="Nothing to do if that is intended; to choose the database yourself, set "
                "ZOHO_TOKENS['DATABASE'], or route the zoho_tokens app to the primary.",
                id=CheckId.READS_ROUTED_ELSEWHERE,
            )
        ]
    return []


def _tenants_configured() -> bool:
    return (
        bool(zoho_settings.raw("TENANT_RESOLVER"))
        or bool(zoho_settings.raw("TENANT_FROM_SCHEMA"))
        or tenancy.permissions_shared_across_schemas()
    )


def _permission_is_callable(value: Any) -> bool:
    """A callable, or a dotted path to one (``_connect_permission_problem`` vetted it)."""
    if callable(value):
        return True
    return isinstance(value, str) and value.strip().count(".") > 1


def _connect_permission_problem(value: Any) -> str:
    if value is None or callable(value):
        return ""
    if not isinstance(value, str) or "." not in value.strip():
        return f"is {value!r}: neither 'app_label.codename' nor a callable"
    if value.strip().count(".") > 1:
        try:
            imported = import_string(value.strip())
        except ImportError:
            return f"is {value!r}, which cannot be imported"
        if not callable(imported):
            return f"is {value!r}, which is not callable"
    return ""


def _token_connection(databases: Any) -> Any:
    """The connection of the token database when this check run covers it and zoho_tokens'
    migrations are all applied there (before that, ``migrate`` is what fixes things)."""
    if not databases:
        return None
    alias = token_db()
    if alias not in databases:
        return None
    connection = connections[alias]
    try:
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(connection, ignore_no_migrations=True)
    except DatabaseError:
        return None
    mine = {key for key in loader.disk_migrations if key[0] == ZohoToken._meta.app_label}
    if not mine or not mine <= set(loader.applied_migrations):
        return None
    return connection


@register(Tags.database)
def check_identity_collation(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Tenant, user name and id columns must compare exactly (see ``zoho_tokens.collation``)."""
    connection = _token_connection(databases)
    if connection is None or connection.vendor not in ("mysql", "postgresql"):
        return []
    try:
        loose = collation.loose_columns(connection, ZohoToken)
    except DatabaseError:
        return []
    if not loose:
        return []
    columns = ", ".join(f"{column} ({name})" for column, name in loose.items())
    fix = "; ".join(collation.fix_statements(connection, ZohoToken))
    return [
        Error(
            f"Zoho token columns compare case-, accent- or space-insensitively: {columns}. "
            "A store for tenant 'ACME' or 'acme ' could then reach tenant 'acme''s tokens, "
            "and two Zoho users differing only in case collide.",
            hint=f"Give them a binary, no-pad collation; run: {fix};",
            id=CheckId.IDENTITY_COLLATION,
        )
    ]


@register(Tags.database)
def check_rows_on_derived_keys(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Tokens still encrypted with a SECRET_KEY-derived key, or with no key in force: one
    COUNT each, on ``key_id`` (nothing is decrypted)."""
    connection = _token_connection(databases)
    if connection is None:
        return []
    try:
        in_force, derived = crypto.key_ids(), crypto.derived_key_ids()
    except ConfigurationError:
        return []  # check_encryption_keys reports why
    rows = ZohoToken.objects.using(connection.alias)
    messages: list[CheckMessage] = []
    try:
        on_derived = (
            rows.filter(key_id__in=derived).count()
            if zoho_settings.ENCRYPTION_KEYS and derived
            else 0
        )
        unreadable = rows.exclude(key_id="").exclude(key_id__in=in_force).count()
    except DatabaseError:
        return []
    if on_derived:
        messages.append(
            Warning(
                f"{on_derived} Zoho tokens are still encrypted with a key derived from "
                "SECRET_KEY (or SECRET_KEY_FALLBACKS): they become unreadable if that secret "
                "changes or is dropped from SECRET_KEY_FALLBACKS.",
                hint="Move them to ZOHO_TOKENS['ENCRYPTION_KEYS'][0]: "
                "python manage.py zoho_tokens rotate-keys",
                id=CheckId.ROWS_ON_DERIVED_KEY,
            )
        )
    try:
        old = rows_on_old_keys(connection.alias)
    except (DatabaseError, ConfigurationError):
        old = []
    for entry in old:
        messages.append(
            Warning(
                f"{entry.rows} Zoho tokens are still encrypted with "
                f"ZOHO_TOKENS['ENCRYPTION_KEYS'][{entry.position}] (key id {entry.key_id}), not "
                "the first key: removing that key would make them unreadable.",
                hint="Move them to the first key before removing it: "
                "python manage.py zoho_tokens rotate-keys (--dry-run counts them).",
                id=CheckId.ROWS_ON_OLD_KEY,
            )
        )
    if unreadable:
        messages.append(
            Warning(
                f"{unreadable} Zoho tokens were encrypted with a key that is not in force: "
                "they cannot be used (status 'unreadable').",
                hint="Add the key back to ZOHO_TOKENS['ENCRYPTION_KEYS'] (after the first), or "
                "the SECRET_KEY it was derived from to SECRET_KEY_FALLBACKS, then run "
                "python manage.py zoho_tokens rotate-keys. Without it, revoke them at Zoho and "
                "purge them.",
                id=CheckId.UNREADABLE_ROWS,
            )
        )
    return messages


@register()
def check_notify(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every ``NOTIFY`` entry is a built-in notifier or imports; "webhook" has a URL and secret."""
    messages: list[CheckMessage] = []
    names = key_list(zoho_settings.raw("NOTIFY"))
    for name in names:
        if name in BUILT_IN:
            continue
        try:
            import_string(name)
        except ImportError:
            messages.append(
                Error(
                    f"ZOHO_TOKENS['NOTIFY'] names {name!r}, which is neither a built-in "
                    "notifier nor an importable class",
                    hint=f"use one of {', '.join(sorted(BUILT_IN))} or a dotted path to a "
                    "zoho_tokens.notify.Notifier subclass",
                    id=CheckId.UNKNOWN_NOTIFIER,
                )
            )
    if "webhook" in names and not (
        zoho_settings.raw("WEBHOOK_URL") and zoho_settings.raw("WEBHOOK_SECRET")
    ):
        messages.append(
            Error(
                "ZOHO_TOKENS['NOTIFY'] names 'webhook' but WEBHOOK_URL or WEBHOOK_SECRET is "
                "not set",
                hint="set ZOHO_TOKENS['WEBHOOK_URL'] (where to POST) and ['WEBHOOK_SECRET'] (the "
                "HMAC key the receiver verifies), or remove 'webhook' from NOTIFY",
                id=CheckId.WEBHOOK_INCOMPLETE,
            )
        )
    return messages


@dataclass(frozen=True)
class OldKeyRows:
    """Rows still sealed with ``ENCRYPTION_KEYS[position]`` (a key other than the first)."""

    position: int
    key_id: str
    rows: int


def rows_on_old_keys(using: str | None = None) -> list[OldKeyRows]:
    """Per configured key after the first: how many rows it still seals (one GROUP BY on
    ``key_id``, nothing decrypted). Removing such a key makes those rows unreadable, so
    check W031 and ``rotate-keys --dry-run`` say so while the key is still configured."""
    configured = [crypto.fingerprint(key) for key in zoho_settings.ENCRYPTION_KEYS]
    positions: dict[str, int] = {}
    for position, key_id in enumerate(configured[1:], start=1):
        if key_id != configured[0]:
            positions.setdefault(key_id, position)
    if not positions:
        return []
    counted = (
        ZohoToken.objects.using(using or token_db())
        .filter(key_id__in=list(positions))
        .values("key_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found = {row["key_id"]: row["n"] for row in counted}
    return [
        OldKeyRows(position, key_id, found[key_id])
        for key_id, position in sorted(positions.items(), key=lambda item: item[1])
        if found.get(key_id)
    ]


@register(Tags.database)
def check_connections_have_scopes(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Connections whose stored scopes lack one of ``SCOPES`` (what the project now asks
    for): their calls needing it fail until someone connects again. Connections whose scopes
    are unknown (stored before scopes were recorded) are not counted."""
    connection = _token_connection(databases)
    if connection is None:
        return []
    wanted = [s for s in key_list(zoho_settings.SCOPES)]
    if not wanted:
        return []
    lacking: dict[str, int] = {}
    examples: list[str] = []
    try:
        rows = ZohoToken.objects.using(connection.alias).exclude(scope="")
        for tenant, user_name, scope in rows.values_list("tenant", "user_name", "scope").iterator(
            chunk_size=2000
        ):
            have = {s.lower() for s in scope.split(",")}
            missing = [s for s in wanted if s.lower() not in have]
            for name in missing:
                lacking[name] = lacking.get(name, 0) + 1
            if missing and len(examples) < 3:
                examples.append(f"{user_name} (tenant {tenant!r})")
    except DatabaseError:
        return []
    if not lacking:
        return []
    counts = ", ".join(f"{name} ({n})" for name, n in sorted(lacking.items()))
    return [
        Warning(
            f"Zoho connections lack scopes in ZOHO_TOKENS['SCOPES']: reconnect needed: "
            f"{counts}; e.g. {', '.join(examples)}.",
            hint="Connect them again (the connect page asks for every scope in SCOPES), or "
            "remove the scope from SCOPES if the project does not need it.",
            id=CheckId.CONNECTIONS_LACK_SCOPES,
        )
    ]
