"""App settings: one object, defaults in one dict, values normalised once.

Modelled on Django REST framework's ``api_settings``: read ``settings.ZOHO_TOKENS`` lazily, fall
back to ``DEFAULTS``, coerce each value once (key lists split, data center lower-cased, numbers
parsed, dotted paths imported), and drop the cache on ``setting_changed`` so
``override_settings`` works in tests. This module reloads only itself: modules that derive
state from a setting (``crypto``'s keys, ``audit``'s receivers) listen for the change
themselves, and their receivers run after this one because they import this module first.

System checks validate the raw values (``zoho_settings.raw(name)``), so a wrong value is
reported by ``manage.py check`` rather than failing at the first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "REDIRECT_URL": None,
    "DATA_CENTER": "us",
    "ENVIRONMENT": "production",
    "ACCOUNTS_URL": None,
    "API_DOMAIN": None,
    # Hosts besides Zoho's API hosts (and API_DOMAIN) that may receive access tokens
    # (zoho_tokens.http): "host" (https) or "scheme://host[:port]", e.g. a proxy.
    "API_HOSTS": [],
    "ENCRYPTION_KEYS": [],
    "REFRESH_AHEAD_SECONDS": 60,
    "HTTP_TIMEOUT": 10,
    "AUDIT_LOG": True,
    # How long a worker waits for another worker's refresh before giving up (seconds).
    "REFRESH_WAIT_SECONDS": 15,
    "TENANT_RESOLVER": None,
    # django-tenants with zoho_tokens in SHARED_APPS: the current tenant is always the
    # connection's schema (the public schema is the default tenant "").
    "TENANT_FROM_SCHEMA": False,
    # May the web flow connect Zoho for the default tenant ""? None: only when no
    # TENANT_RESOLVER is configured (a resolver that finds no tenant is refused).
    "ALLOW_DEFAULT_TENANT": None,
    # Who may connect Zoho through the web flow: a permission name, or a callable
    # (request, tenant) -> bool (or a dotted path to one).
    "CONNECT_PERMISSION": "zoho_tokens.add_zohotoken",
    # Web connects per user and per session in any 60 s (each one may post the client
    # secret to Zoho and writes audit rows); 0 turns the bound off.
    "CONNECT_RATE_LIMIT": 5,
    "SCOPES": "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ",
    # Scopes the connect page may add on request (connect?scopes=ZohoBooks.fullaccess.all).
    "EXTRA_SCOPES": [],
    "SUCCESS_URL": "/admin/zoho_tokens/zohotoken/",
    # Directory for the SDK's resource files (use_zoho); None: a temporary directory.
    "SDK_RESOURCE_PATH": None,
    # Database alias for token state; None: router.db_for_write(ZohoToken).
    "DATABASE": None,
    # Audit rows older than this many days go with 'zoho_tokens prune-audit'; None: kept.
    "AUDIT_RETENTION_DAYS": 400,
    # Who hears when a connection starts failing, dies or recovers: "mail_admins", "webhook"
    # or dotted paths to zoho_tokens.notify.Notifier subclasses; empty: nobody (off).
    "NOTIFY": [],
    # The "webhook" notifier: where to POST, the HMAC secret, seconds per attempt, retries.
    "WEBHOOK_URL": None,
    "WEBHOOK_SECRET": None,
    "WEBHOOK_TIMEOUT": 5,
    "WEBHOOK_RETRIES": 3,
    # Prometheus metrics (zoho_tokens.metrics) when prometheus_client is installed.
    "METRICS": True,
}


def key_list(value: Any) -> list[str]:
    """A list of keys, or one comma-separated string (as environment variables give it)."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = [item.decode() if isinstance(item, bytes) else str(item) for item in items]
    return [key.strip() for key in keys if key.strip()]


def _lower(default: str) -> Callable[[Any], str]:
    return lambda value: str(value or default).strip().lower()


def _url(value: Any) -> str | None:
    return str(value).strip().rstrip("/") or None if value else None


def _dotted(value: Any) -> Any:
    """A callable, or a dotted path to one (imported once, like DRF's ``IMPORT_STRINGS``)."""
    return import_string(value) if isinstance(value, str) and value else value or None


def _permission(value: Any) -> Any:
    """A permission name (``app_label.codename``), or a callable, or a dotted path to one."""
    if callable(value) or not value:
        return value or None
    text = str(value).strip()
    return import_string(text) if text.count(".") > 1 else text


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


COERCE: dict[str, Callable[[Any], Any]] = {
    "ENCRYPTION_KEYS": key_list,
    "API_HOSTS": key_list,
    "EXTRA_SCOPES": key_list,
    "DATA_CENTER": _lower("us"),
    "ENVIRONMENT": _lower("production"),
    "ACCOUNTS_URL": _url,
    "API_DOMAIN": _url,
    "REFRESH_AHEAD_SECONDS": int,
    "HTTP_TIMEOUT": float,
    "CONNECT_RATE_LIMIT": int,
    "REFRESH_WAIT_SECONDS": float,
    "AUDIT_LOG": bool,
    "TENANT_FROM_SCHEMA": bool,
    "TENANT_RESOLVER": _dotted,
    "CONNECT_PERMISSION": _permission,
    "ALLOW_DEFAULT_TENANT": _optional_bool,
    "AUDIT_RETENTION_DAYS": _optional_int,
    "NOTIFY": key_list,
    "WEBHOOK_URL": _url,
    "WEBHOOK_TIMEOUT": float,
    "WEBHOOK_RETRIES": int,
    "METRICS": bool,
}


class ZohoTokensSettings:
    """``settings.ZOHO_TOKENS`` as attributes, with defaults: ``zoho_settings.HTTP_TIMEOUT``."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        if not hasattr(self, "_user_settings"):
            self._user_settings = dict(getattr(settings, "ZOHO_TOKENS", {}) or {})
        return self._user_settings

    def raw(self, attr: str) -> Any:
        """The value as configured, before normalisation (for system checks)."""
        if attr not in self.defaults:
            raise AttributeError(f"Invalid ZOHO_TOKENS setting: {attr!r}")
        return self.user_settings.get(attr, self.defaults[attr])

    def __getattr__(self, attr: str) -> Any:
        value = self.raw(attr)
        coerce = COERCE.get(attr)
        if coerce is not None:
            try:
                value = coerce(value)
            except (TypeError, ValueError, ImportError) as exc:
                raise ImproperlyConfigured(
                    f"ZOHO_TOKENS[{attr!r}] is invalid ({type(exc).__name__}: {exc}); "
                    "run 'manage.py check' for details"
                ) from None
        self._cached.add(attr)
        setattr(self, attr, value)
        return value

    def reload(self) -> None:
        # Every setting name, not only the cached ones: a value set on the object from outside
        # (a test's monkeypatch restoring it after a reload) must not outlive the reload.
        for attr in self._cached | (self.__dict__.keys() & self.defaults.keys()):
            delattr(self, attr)
        self._cached.clear()
        if hasattr(self, "_user_settings"):
            delattr(self, "_user_settings")


zoho_settings = ZohoTokensSettings(DEFAULTS)


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "ZOHO_TOKENS":
        zoho_settings.reload()
