"""App settings: one object, defaults in one dict, reloaded when tests override settings.

Modelled on Django REST framework's ``api_settings``: read ``settings.ZOHO_TOKENS`` lazily,
fall back to ``DEFAULTS``, and drop the cache on ``setting_changed`` so ``override_settings``
works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "REDIRECT_URL": None,
    "DATA_CENTER": "us",
    "ENVIRONMENT": "production",
    "ACCOUNTS_URL": None,
    "API_DOMAIN": None,
    "ENCRYPTION_KEYS": [],
    "REFRESH_AHEAD_SECONDS": 60,
    "HTTP_TIMEOUT": 10,
    "AUDIT_LOG": True,
    # How long a worker waits for another worker's refresh before giving up (seconds).
    "REFRESH_WAIT_SECONDS": 15,
    "TENANT_RESOLVER": None,
    "SCOPES": "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ",
    "SUCCESS_URL": "/admin/zoho_tokens/zohotoken/",
    # Directory for the SDK's resource files (use_zoho); None: a temporary directory.
    "SDK_RESOURCE_PATH": None,
}

# Zoho data centers: accounts server and CRM API domain per environment.
DATA_CENTERS: dict[str, dict[str, str]] = {
    "us": {"accounts": "https://accounts.zoho.com", "api": "zohoapis.com"},
    "eu": {"accounts": "https://accounts.zoho.eu", "api": "zohoapis.eu"},
    "in": {"accounts": "https://accounts.zoho.in", "api": "zohoapis.in"},
    "au": {"accounts": "https://accounts.zoho.com.au", "api": "zohoapis.com.au"},
    "cn": {"accounts": "https://accounts.zoho.com.cn", "api": "zohoapis.com.cn"},
    "jp": {"accounts": "https://accounts.zoho.jp", "api": "zohoapis.jp"},
    "ca": {"accounts": "https://accounts.zohocloud.ca", "api": "zohoapis.ca"},
    "sa": {"accounts": "https://accounts.zoho.sa", "api": "zohoapis.sa"},
}
ENVIRONMENTS = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


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

    def __getattr__(self, attr: str) -> Any:
        if attr not in self.defaults:
            raise AttributeError(f"Invalid ZOHO_TOKENS setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        self._cached.add(attr)
        setattr(self, attr, value)
        return value

    def reload(self) -> None:
        for attr in self._cached:
            delattr(self, attr)
        self._cached.clear()
        if hasattr(self, "_user_settings"):
            delattr(self, "_user_settings")


zoho_settings = ZohoTokensSettings(DEFAULTS)


def accounts_base_url(data_center: str | None = None) -> str:
    """The accounts server base URL: ``ACCOUNTS_URL`` if set, else the data center's."""
    if zoho_settings.ACCOUNTS_URL:
        return str(zoho_settings.ACCOUNTS_URL).rstrip("/")
    dc = (data_center or zoho_settings.DATA_CENTER or "us").lower()
    if dc not in DATA_CENTERS:
        raise ValueError(f"unknown Zoho data center {dc!r}; use one of {', '.join(DATA_CENTERS)}")
    return DATA_CENTERS[dc]["accounts"]


def api_domain_for(data_center: str | None = None, environment: str | None = None) -> str:
    """The CRM API base URL for a data center and environment (``API_DOMAIN`` wins)."""
    if zoho_settings.API_DOMAIN:
        return str(zoho_settings.API_DOMAIN).rstrip("/")
    dc = (data_center or zoho_settings.DATA_CENTER or "us").lower()
    env = (environment or zoho_settings.ENVIRONMENT or "production").lower()
    if dc not in DATA_CENTERS:
        raise ValueError(f"unknown Zoho data center {dc!r}; use one of {', '.join(DATA_CENTERS)}")
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown Zoho environment {env!r}; use one of {', '.join(ENVIRONMENTS)}")
    return f"https://{ENVIRONMENTS[env]}.{DATA_CENTERS[dc]['api']}"


def data_center_of(api_domain: str | None) -> str | None:
    """Which data center an api domain belongs to (``None`` for unknown hosts)."""
    if not api_domain:
        return None
    host = api_domain.split("://", 1)[-1].split("/", 1)[0].lower()
    for name, dc in DATA_CENTERS.items():
        if host.endswith("." + dc["api"]):
            return name
    return None


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ZOHO_TOKENS", "SECRET_KEY"):
        zoho_settings.reload()
        from zoho_tokens import audit, crypto

        crypto.reset_keys()
        audit.connect()
