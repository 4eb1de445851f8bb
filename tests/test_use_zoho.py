"""``use_zoho``: the real SDK, per tenant, in threads and in separate worker processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading

import pytest
from django.db import connection
from zohocrmsdk.src.com.zoho.crm.api.dc import EUDataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations

from tests.factories import ZohoTokenFactory
from tests.helpers import ROOT, current_email, database_url_for_subprocess
from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.models import ZohoToken
from zoho_tokens.sdk import NoConnection, environment_for, use_zoho
from zoho_tokens.tenancy import current_tenant, tenant_context

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = "Zoho-oauthtoken "


@pytest.fixture
def sdk_settings(settings, zoho_settings_for, sdk_resource_path):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "SDK_RESOURCE_PATH": sdk_resource_path}
    return settings.ZOHO_TOKENS


def connect(fake_zoho, tenant: str, email: str, zgid: str) -> ZohoToken:
    code = fake_zoho.add_grant(email=email, zgid=zgid)
    return services.exchange_grant(code, tenant=tenant, source=AuditSource.COMMAND)


def crm_tokens(fake_zoho) -> list[str]:
    """Access tokens the fake Zoho saw on CRM users calls, in order (any API version: SDK
    6_0, 7_0 and 8_0 call /crm/v6, /crm/v7 and /crm/v8)."""
    return [
        auth[len(AUTH) :]
        for method, path, auth in list(fake_zoho.requests_log)
        if method == "GET" and re.match(r"/crm/v\d+/users", path) and auth
    ]


def test_two_tenants_in_two_threads_at_once_use_their_own_tokens(fake_zoho, sdk_settings):
    rows = {
        "a": connect(fake_zoho, "a", "ann@a.example", "700000001"),
        "b": connect(fake_zoho, "b", "bob@b.example", "700000002"),
    }
    fake_zoho.reset_log()
    both_inside = threading.Barrier(2, timeout=30)
    results: dict[str, object] = {}

    def work(tenant: str) -> None:
        try:
            with use_zoho(tenant=tenant) as row:
                both_inside.wait()  # both threads are switched before either calls Zoho
                results[tenant] = (row.pk, current_tenant(), current_email(), current_email())
        except BaseException as exc:  # reported in the main thread
            results[tenant] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert results["a"] == (rows["a"].pk, "a", "ann@a.example", "ann@a.example")
    assert results["b"] == (rows["b"].pk, "b", "bob@b.example", "bob@b.example")
    used = crm_tokens(fake_zoho)
    assert used.count(rows["a"].access_token) == 2
    assert used.count(rows["b"].access_token) == 2
    assert len(used) == 4
    assert fake_zoho.counters["refresh"] == 0  # fresh tokens were reused, not refreshed


def test_use_zoho_restores_the_previous_user_and_tenant(fake_zoho, sdk_settings):
    connect(fake_zoho, "a", "ann@a.example", "700000001")
    connect(fake_zoho, "b", "bob@b.example", "700000002")

    with use_zoho(tenant="a"):
        assert current_email() == "ann@a.example"
        outer = Initializer.get_initializer()
        with use_zoho(tenant="b"):
            assert current_tenant() == "b"
            assert current_email() == "bob@b.example"
        assert Initializer.get_initializer() is outer
        assert current_tenant() == "a"
        assert current_email() == "ann@a.example"
    assert current_tenant() == ""
    assert getattr(Initializer.LOCAL, "init", None) is None


def test_tenant_defaults_to_the_current_one_and_user_name_picks_a_connection(
    fake_zoho, sdk_settings
):
    ann = connect(fake_zoho, "a", "ann@a.example", "700000001")
    cid = connect(fake_zoho, "a", "cid@a.example", "700000001")

    with tenant_context("a"):
        with pytest.raises(NoConnection, match="several"):
            with use_zoho():
                pass
        with use_zoho(cid.user_name) as row:
            assert row.pk == cid.pk
            assert current_email() == "cid@a.example"
        with use_zoho(user_name=ann.user_name):
            assert current_email() == "ann@a.example"

    with pytest.raises(NoConnection, match="no Zoho connection"):
        with use_zoho(tenant="b"):
            pass
    with pytest.raises(NoConnection, match="no Zoho connection for"):
        with use_zoho(ann.user_name, tenant="b"):
            pass


def test_outside_use_zoho_another_tenants_connection_is_not_found(fake_zoho, sdk_settings):
    """The process-wide SDK user left by the first use_zoho is useless in another tenant."""
    connect(fake_zoho, "a", "ann@a.example", "700000001")
    with use_zoho(tenant="a"):
        current_email()
    with tenant_context("b"):
        with pytest.raises(Exception, match="Given ID is invalid"):
            UsersOperations().get_users()


def test_environment_follows_the_tokens_api_domain(fake_zoho, sdk_settings):
    eu = ZohoTokenFactory.build(api_domain="https://www.zohoapis.eu")
    environment = environment_for(eu)
    assert environment.url == EUDataCenter.PRODUCTION().url
    assert environment.accounts_url == "https://accounts.zoho.eu/oauth/v2/token"

    fake = ZohoTokenFactory.build(api_domain=fake_zoho.url)
    environment = environment_for(fake)
    assert (environment.url, environment.accounts_url) == (fake_zoho.url, fake_zoho.token_url)


def test_a_worker_threads_data_center_stays_in_that_thread(fake_zoho, sdk_settings):
    """SDK 6_0/7_0's ``switch_user`` wrote a thread's data center on the process-wide
    initializer; ``use_zoho`` must keep it per thread on every major (CI runs 6_0 and 7_0)."""
    connect(fake_zoho, "a", "ann@a.example", "700000001")
    # A valid access token at Zoho's EU domain: resolving it needs no HTTP call.
    ZohoTokenFactory(tenant="eu", api_domain="https://www.zohoapis.eu")
    with use_zoho(tenant="a"):
        assert current_email() == "ann@a.example"  # the process-wide initializer exists now
    process_wide = Initializer.initializer
    seen: dict[str, object] = {}

    def worker() -> None:
        try:
            with use_zoho(tenant="eu"):
                seen["thread"] = Initializer.get_initializer().environment.url
                seen["process"] = Initializer.initializer.environment.url
        except BaseException as exc:  # reported in the main thread
            seen["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert "error" not in seen, seen.get("error")
    assert seen == {"thread": EUDataCenter.PRODUCTION().url, "process": fake_zoho.url}
    assert Initializer.initializer is process_wide
    assert Initializer.initializer.environment.url == fake_zoho.url
    with use_zoho(tenant="a"):  # the other tenant still calls its own data center
        assert current_email() == "ann@a.example"


CHILD = textwrap.dedent(
    """
    import json, os, django
    django.setup()
    from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations
    from zoho_tokens.sdk import use_zoho

    with use_zoho(tenant=os.environ["TENANT"]):
        body = UsersOperations().get_users().get_object()
    print(json.dumps({"email": body.get_users()[0].get_email()}))
    """
)


def test_worker_processes_each_run_as_their_tenant(fake_zoho, sdk_settings, sdk_resource_path):
    rows = {
        "a": connect(fake_zoho, "a", "ann@a.example", "700000001"),
        "b": connect(fake_zoho, "b", "bob@b.example", "700000002"),
    }
    fake_zoho.reset_log()
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url_for_subprocess(),
        "ZOHO_CLIENT_ID": sdk_settings["CLIENT_ID"],
        "ZOHO_CLIENT_SECRET": sdk_settings["CLIENT_SECRET"],
        "ZOHO_ACCOUNTS_URL": fake_zoho.url,
        "ZOHO_API_DOMAIN": fake_zoho.url,
        "PYTHONPATH": str(ROOT),
    }
    procs = {
        tenant: subprocess.Popen(
            [sys.executable, "-c", CHILD],
            cwd=sdk_resource_path,
            env={**base_env, "TENANT": tenant},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tenant in rows
    }
    outputs = {}
    for tenant, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        outputs[tenant] = json.loads(out.strip().splitlines()[-1])

    assert outputs == {"a": {"email": "ann@a.example"}, "b": {"email": "bob@b.example"}}
    used = crm_tokens(fake_zoho)
    assert sorted(used) == sorted([rows["a"].access_token, rows["b"].access_token])


def test_refresh_and_revoke_go_to_the_tokens_own_data_center_after_use_zoho(
    fake_zoho, sdk_settings, settings
):
    from zoho_tokens.datacenters import accounts_url_for

    connect(fake_zoho, "a", "ann@a.example", "700000001")
    with use_zoho(tenant="a"):
        current_email()
    settings.ZOHO_TOKENS = {**sdk_settings, "ACCOUNTS_URL": None, "API_DOMAIN": None}
    eu_row = ZohoTokenFactory(tenant="b", api_domain="https://www.zohoapis.eu")

    assert accounts_url_for(eu_row.api_domain, eu_row.accounts_server).startswith(
        "https://accounts.zoho.eu"
    )


def test_use_zoho_gives_the_sdk_our_http_timeout(fake_zoho, sdk_settings, settings):
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

    settings.ZOHO_TOKENS = {**sdk_settings, "HTTP_TIMEOUT": 3}
    connect(fake_zoho, "t", "tim@t.example", "700000009")
    with use_zoho(tenant="t"):
        config = Initializer.get_initializer().sdk_config
        assert (config.get_read_timeout(), config.get_connect_timeout()) == (3.0, 3.0)
