"""System checks for misconfiguration that would otherwise show up as lost tokens later."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from zoho_tokens.conf import DATA_CENTERS, ENVIRONMENTS, zoho_settings


@register(Tags.security, deploy=False)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list:
    from cryptography.fernet import Fernet

    messages: list = []
    keys = zoho_settings.ENCRYPTION_KEYS or []
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode() if isinstance(key, str) else key)
        except Exception:
            messages.append(
                Error(
                    f"ZOHO_TOKENS['ENCRYPTION_KEYS'][{index}] is not a valid Fernet key.",
                    hint="Generate one with: python -c 'from cryptography.fernet import "
                    "Fernet; print(Fernet.generate_key().decode())'",
                    id="zoho_tokens.E001",
                )
            )
    if not keys:
        message = (
            "ZOHO_TOKENS['ENCRYPTION_KEYS'] is not set: tokens are encrypted with a key "
            "derived from SECRET_KEY, so changing SECRET_KEY makes them unreadable."
        )
        hint = "Set ZOHO_TOKENS_ENCRYPTION_KEYS to a dedicated Fernet key."
        if settings.DEBUG:
            messages.append(Warning(message, hint=hint, id="zoho_tokens.W001"))
        else:
            messages.append(Error(message, hint=hint, id="zoho_tokens.E002"))
    return messages


@register()
def check_sdk_importable(app_configs: Any = None, **kwargs: Any) -> list:
    if importlib.util.find_spec("zohocrmsdk") is None:
        return [
            Error(
                "zoho_tokens is installed but the Zoho CRM SDK (zohocrmsdk8_0) is not importable.",
                hint="pip install zohocrmsdk8_0",
                id="zoho_tokens.E003",
            )
        ]
    return []


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    messages: list = []
    dc = str(zoho_settings.DATA_CENTER or "").lower()
    if dc not in DATA_CENTERS:
        messages.append(
            Error(
                f"ZOHO_TOKENS['DATA_CENTER'] is {dc!r}, not a Zoho data center.",
                hint=f"Use one of: {', '.join(DATA_CENTERS)}.",
                id="zoho_tokens.E004",
            )
        )
    env = str(zoho_settings.ENVIRONMENT or "").lower()
    if env not in ENVIRONMENTS:
        messages.append(
            Error(
                f"ZOHO_TOKENS['ENVIRONMENT'] is {env!r}.",
                hint=f"Use one of: {', '.join(ENVIRONMENTS)}.",
                id="zoho_tokens.E005",
            )
        )
    try:
        ahead = int(zoho_settings.REFRESH_AHEAD_SECONDS)
    except (TypeError, ValueError):
        ahead = -1
    if ahead <= 5:
        messages.append(
            Error(
                "ZOHO_TOKENS['REFRESH_AHEAD_SECONDS'] must be an integer above 5 (the SDK's own "
                "refresh threshold), or every worker refreshes on its own.",
                id="zoho_tokens.E006",
            )
        )
    return messages
