"""Shared fixtures. The fake Zoho fixture ``fake_zoho`` comes from zoho_tokens' pytest plugin."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

from zoho_tokens import crypto
from zoho_tokens.conf import zoho_settings

pytest_plugins = ["zoho_tokens.testing.pytest_plugin"]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Settings caches and the SDK's process-global initializer start clean in every test."""
    zoho_settings.reload()
    crypto.reset_keys()
    yield
    zoho_settings.reload()
    crypto.reset_keys()
    Initializer.initializer = None
    Initializer.LOCAL.init = None


@pytest.fixture
def zoho_env(fake_zoho):
    """An SDK environment whose API and accounts URLs are the fake Zoho."""
    return DataCenter.Environment(fake_zoho.url, fake_zoho.token_url, fake_zoho.url)


@pytest.fixture
def zoho_settings_for(settings, fake_zoho):
    """ZOHO_TOKENS pointing at the fake Zoho, with a client id and secret."""
    settings.ZOHO_TOKENS = {
        "CLIENT_ID": "1000.TESTCLIENT",
        "CLIENT_SECRET": "test-client-secret-0123456789",
        "ACCOUNTS_URL": fake_zoho.url,
        "API_DOMAIN": fake_zoho.url,
        "HTTP_TIMEOUT": 2,
        "REFRESH_WAIT_SECONDS": 10,
    }
    return settings.ZOHO_TOKENS


@pytest.fixture
def sdk_resource_path(tmp_path):
    path = tmp_path / "sdk-resources"
    path.mkdir()
    yield str(path)
    shutil.rmtree(path, ignore_errors=True)


def db_vendor() -> str:
    from django.db import connection

    return connection.vendor


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that makes a child process use the running test database."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"{scheme}://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or ''}/{s['NAME']}"


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
