"""The Zoho CRM SDK's classes that zoho_tokens uses, imported in one place.

Every supported SDK major (``zohocrmsdk8_0``, ``zohocrmsdk7_0``, ``zohocrmsdk6_0``) installs
the same ``zohocrmsdk`` package with the same module paths, so one set of imports serves all
of them. The SDK is an extra (``pip install "zoho-tokens[sdk8]"``): without it the package
still imports, ``manage.py check`` reports ``zoho_tokens.E003`` instead of a traceback, and
using an SDK class raises ``ConfigurationError`` saying what to install.
"""

from __future__ import annotations

from typing import Any

from zoho_tokens.exceptions import ConfigurationError

SDK_DISTRIBUTIONS = ("zohocrmsdk8_0", "zohocrmsdk7_0", "zohocrmsdk6_0")
MISSING_MESSAGE = (
    "the Zoho CRM Python SDK is not installed (or not importable): install one major, "
    'e.g. pip install "zoho-tokens[sdk8]"'
)

try:
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.api.authenticator.store.token_store import TokenStore
    from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
    from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
    from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

    AVAILABLE = True
except ImportError:  # reported by system check zoho_tokens.E003
    AVAILABLE = False

    class _MissingClass(type):
        def __getattr__(cls, name: str) -> Any:  # class attributes: Initializer.initializer
            raise ConfigurationError(MISSING_MESSAGE)

    class _Missing(metaclass=_MissingClass):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ConfigurationError(MISSING_MESSAGE)

    class OAuthToken(_Missing):  # type: ignore[no-redef]
        pass

    class DataCenter(_Missing):  # type: ignore[no-redef]
        pass

    class Initializer(_Missing):  # type: ignore[no-redef]
        pass

    class SDKConfig(_Missing):  # type: ignore[no-redef]
        pass

    class UserSignature(_Missing):  # type: ignore[no-redef]
        pass

    class TokenStore:  # type: ignore[no-redef]
        """The SDK's store interface is abstract: a plain base keeps subclasses importable."""


__all__ = [
    "AVAILABLE",
    "MISSING_MESSAGE",
    "SDK_DISTRIBUTIONS",
    "DataCenter",
    "Initializer",
    "OAuthToken",
    "SDKConfig",
    "TokenStore",
    "UserSignature",
]
