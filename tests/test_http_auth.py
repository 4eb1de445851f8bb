"""``zoho_tokens.http.ZohoAuth`` and ``access_token()`` with the real requests and httpx
against the fake Zoho's Books-, Desk- and CRM-like APIs: a call succeeds; a token the fake
dropped is refreshed once and the call retried once; many callers (processes, coroutines)
make one refresh; a host outside the allow-list never sees a request."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import requests

import zoho_tokens
from tests.factories import ZohoTokenFactory
from tests.helpers import database_url_for_subprocess, now_ms
from tests.workers import Workers
from zoho_tokens.exceptions import ConfigurationError, NoConnection, ScopeMissingError
from zoho_tokens.http import ZohoAuth
from zoho_tokens.models import ZohoToken
from zoho_tokens.testing import FakeZoho
from zoho_tokens.testing.fake_zoho import COUNTERS_PATH, DROP_PATH
from zoho_tokens.testing.tokens import SCOPE

USER = "books@example.com:700000031"
BOOKS_SCOPE = SCOPE + ",ZohoBooks.fullaccess.all,Desk.tickets.READ"


@pytest.fixture
def books(fake_zoho, live_token, zoho_settings_for):
    """A stored connection whose grant carried Books and Desk scopes."""
    return live_token(USER, scope=BOOKS_SCOPE)


def books_url(fake: FakeZoho) -> str:
    return fake.url + "/books/v3/organizations"


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("async_db_threads")]


def worker_env(fake: FakeZoho) -> dict[str, str]:
    """A child process's environment: the test database, settings at the fake Zoho."""
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "ZOHO_ACCOUNTS_URL": fake.url,
        "ZOHO_API_DOMAIN": fake.url,
        "ZOHO_TOKENS_LOG_LEVEL": "ERROR",
        "SECRET_KEY": os.environ["SECRET_KEY"],  # the keys are derived from it (tests.settings)
    }


def test_access_token_is_the_stored_one_and_needs_no_refresh(fake_zoho, books):
    assert zoho_tokens.access_token() == books.access_token
    assert zoho_tokens.access_token(USER) == books.access_token
    assert fake_zoho.counters["refresh"] == 0


def test_access_token_refreshes_ahead_once(fake_zoho, books):
    ZohoToken.objects.filter(pk=books.pk).update(expiry_time=now_ms() + 30_000)
    token = zoho_tokens.access_token(USER)
    assert token != books.access_token and fake_zoho.is_access_token_valid(token)
    assert zoho_tokens.access_token(USER) == token
    assert fake_zoho.counters["refresh"] == 1


def test_access_token_without_a_connection_says_how_to_connect(zoho_settings_for):
    with pytest.raises(NoConnection, match="zoho_login"):
        zoho_tokens.access_token("nobody@example.com:1")


def test_aaccess_token_gives_the_stored_token(books):
    assert asyncio.run(zoho_tokens.aaccess_token(USER)) == books.access_token


def test_requests_call_succeeds(fake_zoho, books):
    response = requests.get(books_url(fake_zoho), auth=ZohoAuth(USER), timeout=5)
    assert response.status_code == 200
    assert response.json()["organizations"][0]["organization_id"]
    assert fake_zoho.requests_log[-1][2] == f"Zoho-oauthtoken {books.access_token}"
    assert fake_zoho.counters["refresh"] == 0


def test_requests_after_a_drop_refreshes_once_and_retries_once(fake_zoho, books):
    fake_zoho.drop_access_token(books.access_token)
    response = requests.get(books_url(fake_zoho), auth=ZohoAuth(USER), timeout=5)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert fake_zoho.counters["refresh"] == 1
    assert fake_zoho.counters["api"] == 2
    stored = ZohoToken.objects.get(pk=books.pk)
    assert stored.access_token != books.access_token
    assert fake_zoho.requests_log[-1][2] == f"Zoho-oauthtoken {stored.access_token}"


def test_requests_desk_rejection_is_recognised_too(fake_zoho, books):
    fake_zoho.drop_access_token(books.access_token)
    response = requests.get(fake_zoho.url + "/api/v1/tickets", auth=ZohoAuth(USER), timeout=5)
    assert response.status_code == 200
    assert fake_zoho.counters["refresh"] == 1


def test_a_missing_scope_401_is_returned_without_a_refresh(
    fake_zoho, live_token, zoho_settings_for
):
    live_token(USER)  # the default grant: CRM scopes only
    response = requests.get(books_url(fake_zoho), auth=ZohoAuth(USER), timeout=5)
    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    assert fake_zoho.counters["refresh"] == 0


def test_a_second_rejection_is_returned_not_retried_forever(fake_zoho, books):
    fake_zoho.revoke_all()  # the refresh token is gone too: the refresh is refused
    with pytest.raises(Exception, match="connect this user again"):
        requests.get(books_url(fake_zoho), auth=ZohoAuth(USER), timeout=5)
    assert fake_zoho.counters["api"] == 1  # the request was not sent again
    # The refresh path asks Zoho a second time before it marks a token invalid.
    assert 1 <= fake_zoho.counters["refresh"] <= 2


def test_httpx_sync_after_a_drop_refreshes_once(fake_zoho, books):
    with httpx.Client(auth=ZohoAuth(USER), timeout=5) as client:
        assert client.get(books_url(fake_zoho)).status_code == 200
        fake_zoho.drop_access_token(books.access_token)
        response = client.get(books_url(fake_zoho))
    assert response.status_code == 200
    assert fake_zoho.counters["refresh"] == 1
    assert fake_zoho.counters["api"] == 3


def test_httpx_retry_sends_the_body_again(fake_zoho, books):
    fake_zoho.add_record("Leads", Last_Name="Ng", owner=fake_zoho.users()[0])
    fake_zoho.drop_access_token(books.access_token)
    query = {"select_query": "select Last_Name from Leads limit 5"}
    with httpx.Client(auth=ZohoAuth(USER), timeout=5) as client:
        response = client.post(fake_zoho.url + "/crm/v8/coql", json=query)
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["Last_Name"] == "Ng"
    assert fake_zoho.counters["refresh"] == 1


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_a_host_outside_the_allow_list_sees_no_request(fake_zoho, books, client, settings):
    other = FakeZoho().start()
    try:
        url = books_url(other)
        with pytest.raises(ConfigurationError, match="API_HOSTS") as caught:
            if client == "requests":
                requests.get(url, auth=ZohoAuth(USER), timeout=5)
            else:
                httpx.get(url, auth=ZohoAuth(USER), timeout=5)
        assert caught.value.code == "untrusted_host"
        assert books.access_token not in str(caught.value)
        assert other.counters["requests"] == 0
        settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "API_HOSTS": [other.url]}
        requests.get(url, auth=ZohoAuth(USER), timeout=5)
        assert other.counters["requests"] >= 1  # once allowed, it is called
    finally:
        other.stop()


@pytest.mark.multiprocess
def test_eight_processes_hitting_a_dropped_token_make_one_refresh(fake_zoho, books):
    argv = ["http", "--user", USER, "--url", books_url(fake_zoho)]
    # Eight Django processes start slowly on a loaded machine: wait up to 3 min for them.
    with Workers(8, argv, worker_env(fake_zoho), timeout=180) as pool:
        fake_zoho.drop_access_token(books.access_token)
        results = pool.round()
    assert [r for r in results if not r["ok"]] == []
    assert len(results) == 8
    assert fake_zoho.counters["refresh"] == 1


@pytest.fixture
def fake_process(settings, zoho_settings_for):
    """A stored connection at a fake Zoho in a child process: the fake's request threads
    would otherwise compete with the test's event loop for this process's GIL, and the stall
    measured would be theirs. Yields (row, fake url)."""
    row = ZohoTokenFactory.build(user_name=USER, expiry_time=now_ms() + 3_600_000)
    email, _, zgid = USER.rpartition(":")
    argv = ["--refresh-token", row.refresh_token, "--email", email, "--zgid", zgid]
    argv += ["--client-id", row.client_id, "--client-secret", row.client_secret]
    argv += ["--scope", BOOKS_SCOPE]
    root = str(Path(__file__).resolve().parent.parent)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "fake", *argv],
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        started = json.loads(child.stdout.readline())
        url = started["url"]
        settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "ACCOUNTS_URL": url, "API_DOMAIN": url}
        row.api_domain = url
        row.access_token = started["access_token"]
        row.save(force_insert=True)
        yield row, url
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=10)


def test_async_50_concurrent_requests_one_refresh_and_no_database_call_on_the_loop(
    fake_process, monkeypatch
):
    """50 concurrent httpx.AsyncClient requests with a dropped token: one refresh, every
    request answered, and no database call on the event loop's thread (Django's own guard
    raises SynchronousOnlyOperation for one; the test suite turns it off elsewhere). How
    long the loop stalls meanwhile is measured by ``bench/bench_http.py``: a timed test would
    measure the shared machine's load."""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    row, fake_url = fake_process
    url = fake_url + "/books/v3/organizations"

    async def main() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(auth=ZohoAuth(USER), timeout=10, limits=limits) as client:
            assert (await client.get(url)).status_code == 200
            drop = {"token": row.access_token}
            assert (await client.post(fake_url + DROP_PATH, data=drop)).status_code == 200
            responses = await asyncio.gather(*(client.get(url) for _ in range(50)))
        return [r.status_code for r in responses]

    statuses = asyncio.run(main())
    counters = requests.get(fake_url + COUNTERS_PATH, timeout=5).json()
    assert statuses == [200] * 50
    assert counters["refresh"] == 1  # at most one, and the dropped token replaced
    assert counters["api"] == 1 + 50 + 50  # the first call, 50 rejected, 50 retried


def test_async_zohoauth_checks_the_scopes_it_was_given(fake_zoho, books):
    """An ``httpx.AsyncClient`` with ``ZohoAuth(scopes=...)`` raises before any request, as
    the sync flow does (the async flow once dropped the scopes on its way to the thread)."""
    ZohoToken.objects.filter(pk=books.pk).update(scope=SCOPE)

    async def call(scopes: list[str]) -> int:
        async with httpx.AsyncClient(auth=ZohoAuth(USER, scopes=scopes), timeout=5) as client:
            return (await client.get(books_url(fake_zoho))).status_code

    with pytest.raises(ScopeMissingError, match=r"ZohoBooks\.fullaccess\.all"):
        asyncio.run(call(["ZohoBooks.fullaccess.all"]))
    assert fake_zoho.counters["api"] == 0
    with pytest.raises(ScopeMissingError):
        asyncio.run(zoho_tokens.aaccess_token(USER, scopes=["ZohoBooks.fullaccess.all"]))
    assert asyncio.run(call(["ZohoCRM.modules.ALL"])) == 200


def test_the_first_aaccess_token_imports_the_store_off_the_loop():
    """The first ``await zoho_tokens.aaccess_token()`` in a process imports the store's
    modules (tens of ms of CPU) in asgiref's thread, not on the event loop's (a new
    interpreter: here they are imported already)."""
    code = (
        "import asyncio, sys, threading, django\n"
        "django.setup()\n"
        "assert 'zoho_tokens.store' not in sys.modules\n"
        "seen = []\n"
        "sys.addaudithook(lambda event, args: seen.append(threading.get_ident())\n"
        "    if event == 'import' and args[0] == 'zoho_tokens.store' else None)\n"
        "import zoho_tokens\n"
        "async def main():\n"
        "    try:\n"
        "        await zoho_tokens.aaccess_token('nobody@example.com:1')\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__)\n"
        "    return threading.get_ident()\n"
        "loop_thread = asyncio.run(main())\n"
        "assert seen and loop_thread not in seen, (seen, loop_thread)\n"
        "print('ok')\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "ok"


def test_a_database_call_on_the_loop_would_be_caught(fake_process, monkeypatch):
    """The guard the test above relies on: the sync API called on the loop's thread fails."""
    from django.core.exceptions import SynchronousOnlyOperation

    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)

    async def on_the_loop() -> str:
        return zoho_tokens.access_token(USER)

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(on_the_loop())


def test_the_fake_caps_live_access_tokens_per_refresh_token(fake_zoho):
    refresh_token = fake_zoho.add_refresh_token()
    fake_zoho.live_access_tokens = 3
    issued = [fake_zoho.issue_access_token(refresh_token) for _ in range(4)]
    assert [fake_zoho.is_access_token_valid(t) for t in issued] == [False, True, True, True]


def test_importing_the_package_stays_cheap_and_needs_no_settings():
    """``zoho_tokens.access_token`` is imported on first use: ``import zoho_tokens`` loads
    neither Django's settings nor the token modules (setup.py, tools and the SDK import it)."""
    code = (
        "import sys, zoho_tokens\n"
        "assert 'zoho_tokens.tokens' not in sys.modules\n"
        "assert 'django.db' not in sys.modules, 'django.db imported'\n"
        "assert callable(zoho_tokens.__getattr__)\n"
        "print(sorted(zoho_tokens.__all__))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['aaccess_token', 'access_token']"
