"""Shared fixtures; plain helper functions are in ``tests/helpers.py``.

The fake Zoho fixture ``fake_zoho`` comes from zoho_tokens' pytest plugin.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.core.cache import cache
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

from tests.factories import ZohoTokenFactory
from tests.helpers import (
    CHROMIUM_OPTIONS,
    CLIENT_ID,
    CLIENT_SECRET,
    KEY,
    Recorder,
    ZohoTokensSettings,
    find_executable,
    now_ms,
)
from zoho_tokens import crypto, refresh
from zoho_tokens.conf import zoho_settings
from zoho_tokens.datacenters import DATA_CENTERS
from zoho_tokens.datacenters import DataCenter as ZohoDataCenter
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.testing import FakeZoho

pytest_plugins = ["zoho_tokens.testing.pytest_plugin"]

# Modules whose result cannot depend on DATABASE_URL: they run their own SQLite database in a
# child process (the demo, the docs' shell blocks, settings), import code without one, or
# check the tree. The browser tests draw the same HTML on every backend (tests/test_admin.py
# checks each backend's queries). CI's PostgreSQL and MariaDB lanes deselect them with
# -m "not backend_independent"; the README's test command runs them on SQLite.
BACKEND_INDEPENDENT = {
    "test_architecture",
    "test_demo",
    "test_demo_settings",
    "test_docs",
    "test_fake_zoho_api",
    "test_suite_layout",
    "test_without_sdk",
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Background jobs a test started (revoking a replaced token, a webhook) finish before its
    fixtures are torn down: otherwise one writes while the database is flushed (a deadlock
    with PostgreSQL's TRUNCATE, seen in CI) or calls a fake Zoho that has stopped."""
    from zoho_tokens import background

    background.join()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[
            2
        ] in BACKEND_INDEPENDENT or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.backend_independent)


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch):
    """Settings caches, Django's cache (the connect rate limit counts users there) and the
    SDK's process-global initializer start clean in every test; the shared clock is read
    again; a refused refresh is asked again after 50 ms, not 1 s."""
    zoho_settings.reload()
    crypto.reset_keys()
    cache.clear()
    refresh._clock["mono"] = float("-inf")
    monkeypatch.setattr(refresh, "REFUSAL_RECHECK_SECONDS", 0.05)
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
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "ACCOUNTS_URL": fake_zoho.url,
        "API_DOMAIN": fake_zoho.url,
        "HTTP_TIMEOUT": 2,
        "REFRESH_WAIT_SECONDS": 10,
    }
    return settings.ZOHO_TOKENS


@pytest.fixture
def cmd_settings(settings, zoho_settings_for):
    """ZOHO_TOKENS at the fake Zoho, with the encryption key that ``helpers.child_env`` gives
    ``manage.py`` children too; ``cmd_settings["X"] = v`` and ``.pop("X")`` change it."""
    changed = ZohoTokensSettings(settings)
    changed["ENCRYPTION_KEYS"] = [KEY]
    return changed


@pytest.fixture
def sdk_resource_path(tmp_path):
    path = tmp_path / "sdk-resources"
    path.mkdir()
    yield str(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def init_sdk(zoho_env, sdk_resource_path):
    """``init_sdk(token, store=None, environment=None)``: ``Initializer.initialize`` with our
    store, against the fake Zoho (the SDK runs ``get_token`` in it: find, exchange, refresh)."""

    def init(token, *, store=None, environment=None) -> None:
        Initializer.initialize(
            environment=environment or zoho_env,
            token=token,
            store=store if store is not None else DjangoTokenStore(),
            resource_path=sdk_resource_path,
        )

    return init


@pytest.fixture
def live_token(fake_zoho, zoho_settings_for):
    """``live_token(user_name=None, *, expires_in_ms=3_600_000, registered=True, **fields)``:
    a stored ZohoToken (``fields`` as for ZohoTokenFactory) whose refresh token the fake Zoho
    knows, for the row's own client id and secret as Zoho binds it, and whose access token
    the fake issued; its API domain and the settings point at the fake.

    The user name is ``"<email>:<zgid>"`` of the fake's Zoho user. ``registered=False``
    stores a refresh token Zoho does not know (revoked or never issued); ``scope`` is what
    the fake's grant carried (comma-separated; default ``testing.tokens.SCOPE``).
    """

    def make(
        user_name: str | None = None,
        *,
        expires_in_ms: int = 3_600_000,
        registered: bool = True,
        scope: str | None = None,
        **fields,
    ):
        if user_name is not None:
            fields["user_name"] = user_name
        fields.setdefault("api_domain", fake_zoho.url)
        row = ZohoTokenFactory.build(expiry_time=now_ms() + expires_in_ms, **fields)
        if registered:
            email, _, zgid = (row.user_name or "").rpartition(":")
            fake_zoho.add_refresh_token(
                row.refresh_token,
                email=email,
                zgid=zgid,
                client_id=row.client_id,
                client_secret=row.client_secret,
                **({"scope": scope} if scope else {}),
            )
            if "access_token" not in fields:
                row.access_token = fake_zoho.issue_access_token(row.refresh_token)
        row.save(force_insert=True)
        return row

    return make


@pytest.fixture
def rec():
    """A ``helpers.Recorder`` of every zoho_tokens signal sent during the test."""
    recorder = Recorder()
    yield recorder
    recorder.close()


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# -- a real Chromium (selenium) for the browser tests ---------------------------------------


@pytest.fixture
def browser():
    """Headless Chromium through selenium; skipped when missing, except under ``CI=true``."""
    import tempfile

    chromium = find_executable("chromium", "chromium-browser", "google-chrome")
    driver_path = find_executable("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if not (chromium and driver_path and webdriver):
        reason = (
            "browser test needs chromium, chromedriver and selenium "
            f"(found chromium={chromium}, chromedriver={driver_path}, "
            f"selenium={'yes' if webdriver else 'no'}); apt-get install chromium chromium-driver"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="zt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in [*CHROMIUM_OPTIONS, f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def eu(monkeypatch):
    """A second fake Zoho playing the EU data center's accounts server."""
    fake = FakeZoho().start()
    dc = ZohoDataCenter("eu", fake.url, "zohoapis.eu", api_base=fake.url)
    monkeypatch.setitem(DATA_CENTERS, "eu", dc)
    yield fake
    fake.stop()


@pytest.fixture
def async_db_threads():
    """Close, after the test, the database connections that ``sync_to_async`` opened in
    asgiref's thread (``aaccess_token``, ``ZohoAuth`` on an ``httpx.AsyncClient``): a test
    database with a session still open cannot be dropped at the end of the run."""
    yield
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())
