"""django-tenants (schema per tenant, PostgreSQL): zoho_tokens as a tenant app and as a shared app.

Runs only on ``tests.django_tenants_settings`` (every test is skipped otherwise)::

    DJANGO_SETTINGS_MODULE=tests.django_tenants_settings ZOHO_TOKENS_TENANTS_MODE=tenant \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test_tenants \\
    .venv/bin/python -m pytest tests/test_django_tenants.py --create-db

``ZOHO_TOKENS_TENANTS_MODE=tenant``: zoho_tokens in ``TENANT_APPS`` (tables in every tenant
schema, none in public); ``shared``: in ``SHARED_APPS`` with ``TENANT_FROM_SCHEMA``.
Tenants: ``public`` (host ``localhost``), ``acme`` (``acme.localhost``), ``beta``
(``beta.localhost``), made once per session, committed; each test's rows roll back.
"""

from __future__ import annotations

import os

import pytest
import requests
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.management import ManagementUtility, call_command
from django.db import connection, connections
from django.test import Client as HttpClient
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import (
    KEY,
    by_name,
    changelist_url,
    child_env,
    current_email,
    now_ms,
    run_action,
    run_manage,
    start_connect,
)
from zoho_tokens import checks, services
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import ConfigurationError, TokenStoreError
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.sdk import NoConnection, use_zoho
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.tenancy import (
    current_tenant,
    django_tenants_resolver,
    for_each_schema,
    installed_here,
    tenant_context,
    tenant_from_connection,
)

# Collected everywhere (so a run of this file alone never ends with "no tests ran"), skipped
# unless on the django-tenants settings; django-tenants is installed only for this suite.
IN_TENANTS = os.environ.get("DJANGO_SETTINGS_MODULE") == "tests.django_tenants_settings"
if IN_TENANTS:
    from django_tenants.utils import schema_context

    from tests.customers.models import Client, Domain

MODE = getattr(settings, "ZOHO_TOKENS_TENANTS_MODE", None)
tenant_mode = pytest.mark.skipif(
    IN_TENANTS and MODE != "tenant", reason="zoho_tokens in TENANT_APPS only"
)
shared_mode = pytest.mark.skipif(
    IN_TENANTS and MODE != "shared", reason="zoho_tokens in SHARED_APPS only"
)
pytestmark = [
    pytest.mark.skipif(
        not IN_TENANTS,
        reason="django-tenants suite: DJANGO_SETTINGS_MODULE=tests.django_tenants_settings "
        "on PostgreSQL",
    ),
    pytest.mark.django_db,
]

HOSTS = {"public": "localhost", "acme": "acme.localhost", "beta": "beta.localhost"}
AUDIT_CHANGELIST = "admin:zoho_tokens_tokenauditevent_changelist"
CALLBACK = "/zoho/callback/"


@pytest.fixture(scope="session", autouse=True)
def tenants(django_db_setup, django_db_blocker):
    """The public tenant and two tenant schemas, migrated, committed for the whole session."""
    with django_db_blocker.unblock():
        made = {}
        for schema, host in HOSTS.items():
            tenant = Client.objects.filter(schema_name=schema).first()
            if tenant is None:
                tenant = Client(schema_name=schema, name=schema)
                tenant.save(verbosity=0)
            Domain.objects.get_or_create(domain=host, tenant=tenant, is_primary=True)
            made[schema] = tenant
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    return made


@pytest.fixture(autouse=True)
def _back_to_public():
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    yield
    connection.set_schema_to_public()  # type: ignore[attr-defined]


@pytest.fixture
def zoho(settings, zoho_settings_for, sdk_resource_path):
    """ZOHO_TOKENS at the fake Zoho, with this mode's tenant setting."""
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "SDK_RESOURCE_PATH": sdk_resource_path,
        "ENCRYPTION_KEYS": [KEY],
        "TENANT_FROM_SCHEMA": MODE == "shared",
        # Users and permissions are shared by every schema: a permission name is refused.
        "CONNECT_PERMISSION": "tests.helpers.connectors",
    }
    return settings.ZOHO_TOKENS


def host(schema: str, user=None) -> HttpClient:
    client = HttpClient(HTTP_HOST=HOSTS[schema])
    if user is not None:
        client.force_login(user)
    return client


def connect_in(schema: str, fake_zoho, email: str, zgid: str, **extra) -> ZohoToken:
    """A connection made in ``schema`` by exchanging a grant at the fake Zoho."""
    code = fake_zoho.add_grant(email=email, zgid=zgid)
    with schema_context(schema):
        # The tenant column: "" in TENANT_APPS mode, the schema's tenant in SHARED_APPS mode.
        return services.exchange_grant(
            code, tenant=current_tenant(), source=AuditSource.COMMAND, **extra
        )


def rows_in(schema: str) -> list[tuple[str, str]]:
    with schema_context(schema):
        return sorted(ZohoToken.objects.values_list("tenant", "user_name"))


# -- both modes -------------------------------------------------------------------------------


def test_the_suite_runs_on_django_tenants():
    assert connection.vendor == "postgresql"
    assert settings.DATABASES["default"]["ENGINE"] == "django_tenants.postgresql_backend"
    assert checks.check_token_database() == []  # E013 is for TENANT_FROM_SCHEMA without it
    assert sorted(Client.objects.values_list("schema_name", flat=True)) == [
        "acme",
        "beta",
        "public",
    ]


def test_resolver_reads_the_requests_tenant(tenants):
    class Request:
        tenant = None

    request = Request()
    assert django_tenants_resolver(request) is None
    request.tenant = tenants["public"]
    assert django_tenants_resolver(request) is None
    request.tenant = tenants["acme"]
    assert django_tenants_resolver(request) == "acme"


def test_tenant_from_connection_follows_schema_context():
    assert tenant_from_connection() == ""
    with schema_context("acme"):
        assert tenant_from_connection() == "acme"
        with schema_context("beta"):
            assert tenant_from_connection() == "beta"
        assert tenant_from_connection() == "acme"
    assert tenant_from_connection() == ""


# -- zoho_tokens in TENANT_APPS ---------------------------------------------------------------


@tenant_mode
def test_tables_exist_in_tenant_schemas_only():
    assert not installed_here()
    assert "zoho_tokens_zohotoken" not in connection.introspection.table_names()
    for schema in ("acme", "beta"):
        with schema_context(schema):
            assert installed_here()
            assert "zoho_tokens_zohotoken" in connection.introspection.table_names()


@tenant_mode
def test_store_finds_only_its_own_schemas_tokens(fake_zoho, zoho):
    # The same Zoho user connected in both schemas: two rows, one per schema, tenant "".
    acme = connect_in("acme", fake_zoho, "ann@example.com", "700000001")
    beta = connect_in("beta", fake_zoho, "ann@example.com", "700000001")
    only_acme = connect_in("acme", fake_zoho, "carl@acme.example", "700000003")
    assert acme.pk != beta.pk and acme.tenant == beta.tenant == ""
    # Alternate many times on one connection: cached SQL (and any prepared statement) must
    # follow the search path.
    for _ in range(4):
        for schema, mine, theirs in (("acme", acme, beta), ("beta", beta, acme)):
            with schema_context(schema):
                store = DjangoTokenStore()
                found = store.find_token(by_name(mine))
                assert found is not None and found.get_id() == mine.pk
                assert found.get_access_token() == mine.access_token
                assert store.find_token_by_id(mine.pk).get_id() == mine.pk
                ids = sorted(t.get_id() for t in store.get_tokens())
                assert theirs.pk not in ids
        with schema_context("beta"):
            assert DjangoTokenStore().find_token(by_name(only_acme)) is None
    assert rows_in("acme") == [
        ("", "ann@example.com:700000001"),
        ("", "carl@acme.example:700000003"),
    ]
    assert rows_in("beta") == [("", "ann@example.com:700000001")]


@tenant_mode
def test_use_zoho_and_refresh_ahead_per_schema(fake_zoho, zoho):
    acme = connect_in("acme", fake_zoho, "ann@acme.example", "700000001")
    beta = connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    with schema_context("acme"):
        # Expires within REFRESH_AHEAD_SECONDS: the SDK call refreshes it first.
        ZohoToken.objects.filter(pk=acme.pk).update(expiry_time=now_ms() + 10_000)
    before = fake_zoho.counters["refresh"]

    with schema_context("acme"), use_zoho() as row:
        assert row.pk == acme.pk
        assert current_email() == "ann@acme.example"
    with schema_context("beta"), use_zoho() as row:
        assert row.pk == beta.pk
        assert current_email() == "bob@beta.example"

    assert fake_zoho.counters["refresh"] == before + 1
    with schema_context("acme"):
        refreshed = ZohoToken.objects.get(pk=acme.pk)
        assert refreshed.access_token != acme.access_token
        assert refreshed.expiry_time > now_ms() + 3_000_000
    with schema_context("beta"):
        assert ZohoToken.objects.get(pk=beta.pk).access_token == beta.access_token
    with schema_context("acme"), pytest.raises(NoConnection):
        with use_zoho(user_name=beta.user_name):
            pass


@tenant_mode
def test_admin_on_a_tenant_host_shows_that_schemas_tokens(fake_zoho, zoho, admin_user):
    acme = connect_in("acme", fake_zoho, "ann@acme.example", "700000001")
    beta = connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    for schema, row in (("acme", acme), ("beta", beta)):
        response = host(schema, admin_user).get(changelist_url())
        assert response.status_code == 200
        assert [r.pk for r in response.context["cl"].result_list] == [row.pk]
        response = host(schema, admin_user).get(reverse(AUDIT_CHANGELIST))
        assert response.status_code == 200
        assert {e.token_id for e in response.context["cl"].result_list} == {row.pk}
        index = host(schema, admin_user).get(reverse("admin:index"))
        assert "zoho_tokens" in {app["app_label"] for app in index.context["app_list"]}


@tenant_mode
def test_public_hosts_admin_hides_zoho_tokens_instead_of_failing(admin_user):
    browser = host("public", admin_user)
    index = browser.get(reverse("admin:index"))
    assert index.status_code == 200
    labels = {app["app_label"] for app in index.context["app_list"]}
    assert "auth" in labels and "zoho_tokens" not in labels
    for url in (
        changelist_url(),
        reverse(AUDIT_CHANGELIST),
        reverse("admin:zoho_tokens_zohotoken_add"),
        reverse("admin:zoho_tokens_zohotoken_change", args=["x"]),
    ):
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("admin:index")
        assert any(
            "each tenant's own schema" in str(m) for m in get_messages(response.wsgi_request)
        )
    page = browser.get(changelist_url(), follow=True)
    assert page.status_code == 200
    assert "open the admin on a tenant&#x27;s domain" in page.content.decode()


@tenant_mode
def test_web_flow_on_a_tenant_host_connects_that_schema(fake_zoho, zoho, admin_user):
    browser = host("acme", admin_user)
    _, query = start_connect(browser)
    assert query["redirect_uri"] == "http://acme.localhost/zoho/callback/"
    code = fake_zoho.add_grant(email="ann@acme.example", zgid="700000077")
    params = {"state": query["state"], "code": code, "location": "us"}
    response = browser.get(CALLBACK, {**params, "accounts-server": fake_zoho.url})
    assert response.status_code == 302
    assert rows_in("acme") == [("", "ann@acme.example:700000077")]
    assert rows_in("beta") == []
    with schema_context("acme"):
        event = TokenAuditEvent.objects.get(action="grant_exchanged")
        assert (event.source, event.actor_id, event.actor_name) == ("web", admin_user.pk, "admin")


def _expiring_pair(fake_zoho, zoho):
    """acme: a token Zoho no longer knows (refresh fails); beta: one that refreshes."""
    acme = connect_in("acme", fake_zoho, "ann@acme.example", "700000001")
    beta = connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    # Revoked at Zoho (as when the user removes the app): its refresh is refused.
    answer = requests.post(
        fake_zoho.url + "/oauth/v2/token/revoke", params={"token": acme.refresh_token}, timeout=5
    )
    assert answer.json() == {"status": "success"}
    for schema, row in (("acme", acme), ("beta", beta)):
        with schema_context(schema):
            ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 60_000)
    return acme, beta


def _assert_swept(acme, beta):
    with schema_context("beta"):
        assert ZohoToken.objects.get(pk=beta.pk).expiry_time > now_ms() + 3_000_000
    with schema_context("acme"):
        assert ZohoToken.objects.get(pk=acme.pk).expiry_time < now_ms() + 120_000


@tenant_mode
def test_all_schemas_sweeps_every_schema_past_public_and_a_failing_tenant(fake_zoho, zoho, capsys):
    acme, beta = _expiring_pair(fake_zoho, zoho)
    with pytest.raises(SystemExit) as exit_:
        call_command("zoho_tokens", "--all-schemas", "refresh", "--expiring-within", "600")
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert "zoho_tokens is not installed in schema public, skipped" in out
    assert "refresh: 1 refreshed, 0 failed" in out
    assert "schema acme: zoho_tokens refresh failed (exit 1); continuing" in err
    assert "zoho_tokens refresh failed in 1 schema(s): acme" in err
    _assert_swept(acme, beta)


@tenant_mode
def test_all_schemas_from_the_command_line(fake_zoho, zoho, capsys, monkeypatch):
    # As 'manage.py zoho_tokens --all-schemas refresh ...' runs it (run_from_argv), in
    # process: the command closes the connections at its end, which would end the test's
    # transaction, so that is left out here.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    acme, beta = _expiring_pair(fake_zoho, zoho)
    argv = [
        "manage.py",
        "zoho_tokens",
        "--all-schemas",
        "refresh",
        "--expiring-within",
        "600",
    ]
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(argv).execute()
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert [line for line in out.splitlines() if line.startswith("schema ")] == [
        "schema acme:",
        "schema beta:",
        "schema public:",
    ], (out, err)
    assert "zoho_tokens is not installed in schema public, skipped" in out
    assert "schema acme: zoho_tokens refresh failed" in err
    _assert_swept(acme, beta)


@pytest.fixture
def manage(fake_zoho):
    """``manage(*args)``: a real ``manage.py`` child on this suite's settings and database.

    What children commit is deleted from every schema afterwards (this test's own
    transaction only rolls back what it wrote itself)."""

    env = child_env(
        fake_zoho.url,
        DJANGO_SETTINGS_MODULE="tests.django_tenants_settings",
        ZOHO_TOKENS_TENANTS_MODE=MODE,
    )
    yield lambda *args: run_manage(*args, env=env)
    other = connection.copy()
    with other.cursor() as cursor:
        for schema in ("acme", "beta") if MODE == "tenant" else ("public",):
            for table in ("zoho_tokens_tokenauditevent", "zoho_tokens_zohotoken"):
                cursor.execute(f'DELETE FROM "{schema}"."{table}"')
    other.close()


def login_in(manage, schema: str, fake_zoho, email: str, zgid: str) -> None:
    code = fake_zoho.add_grant(email=email, zgid=zgid)
    done = manage(
        "tenant_command", "zoho_login", f"--schema={schema}", "--grant-token", code, "--no-input"
    )
    assert done.returncode == 0, done.stderr


@tenant_mode
def test_cron_all_schemas_in_a_real_process(fake_zoho, zoho, manage):
    login_in(manage, "acme", fake_zoho, "ann@acme.example", "700000001")
    login_in(manage, "beta", fake_zoho, "bob@beta.example", "700000002")
    with schema_context("acme"):
        acme = ZohoToken.objects.get()
    requests.post(
        fake_zoho.url + "/oauth/v2/token/revoke", params={"token": acme.refresh_token}, timeout=5
    )

    # Every token expires within 2 hours: acme's refresh fails, beta's succeeds.
    done = manage("zoho_tokens", "--all-schemas", "refresh", "--expiring-within", "7200")

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.count("schema ") >= 3
    assert "zoho_tokens is not installed in schema public, skipped" in done.stdout
    assert "refresh: 1 refreshed, 0 failed" in done.stdout
    assert "schema acme: zoho_tokens refresh failed (exit 1); continuing" in done.stderr
    assert done.stderr.rstrip().endswith("zoho_tokens refresh failed in 1 schema(s): acme")
    assert "Traceback" not in done.stderr
    with schema_context("beta"):
        assert ZohoToken.objects.get().expiry_time > now_ms() + 3_000_000

    # Zoho refused acme's token: it is invalid, and every later sweep says so (exit 1) until
    # it is reconnected; then the sweep is clean again.
    again = manage("zoho_tokens", "--all-schemas", "refresh", "--expiring-within", "7200")
    assert again.returncode == 1, (again.stdout, again.stderr)
    assert "1 invalid (reconnect them" in again.stdout
    login_in(manage, "acme", fake_zoho, "ann@acme.example", "700000001")
    clean = manage("zoho_tokens", "--all-schemas", "refresh", "--expiring-within", "7200")
    assert clean.returncode == 0, (clean.stdout, clean.stderr)


@tenant_mode
def test_django_tenants_all_tenants_command_still_runs_it_in_each_schema(fake_zoho, zoho, capsys):
    """Its loop stops at the first schema that fails (django-tenants' own rule; use
    --all-schemas for a sweep); when none fails it goes through every schema."""
    connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    call_command("all_tenants_command", "zoho_tokens", "list")
    out, err = capsys.readouterr()
    assert out.count("Applying command to:") == 3
    assert "zoho_tokens is not installed in schema public, skipped" in out
    assert "bob@beta.example:700000002" in out and err == ""


@tenant_mode
def test_all_schemas_exits_0_when_every_schema_succeeds(fake_zoho, zoho, capsys):
    connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    call_command("zoho_tokens", "--all-schemas", "list")
    out, err = capsys.readouterr()
    assert "zoho_tokens is not installed in schema public, skipped" in out
    assert "bob@beta.example:700000002" in out
    assert err == ""


@tenant_mode
def test_for_each_schema_returns_one_report_per_schema(fake_zoho, zoho):
    acme, beta = _expiring_pair(fake_zoho, zoho)

    def sweep():
        return services.refresh_tokens([], expiring_within=600, source=AuditSource.COMMAND)

    results = {r.schema: r for r in for_each_schema(sweep, include_public=True)}
    assert sorted(results) == ["acme", "beta", "public"]
    assert results["public"].skipped and not results["public"].ok
    acme_report = results["acme"].result
    assert not acme_report.ok and acme_report.count(services.Status.INVALID) == 1
    assert results["beta"].ok and results["beta"].result.count("refreshed") == 1
    _assert_swept(acme, beta)
    assert [r.schema for r in for_each_schema(lambda: None)] == ["acme", "beta"]

    def broken():
        if getattr(connection, "schema_name", None) == "acme":
            raise RuntimeError("acme is broken")
        return "done"

    outcome = {r.schema: r for r in for_each_schema(broken)}
    assert str(outcome["acme"].error) == "acme is broken"
    assert outcome["beta"].result == "done"


@tenant_mode
def test_a_user_who_acted_in_two_tenants_admins_can_be_deleted(fake_zoho, zoho, admin_user):
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    for schema, email in (("acme", "ann@acme.example"), ("beta", "bob@beta.example")):
        row = connect_in(schema, fake_zoho, email, "700000001")
        response = run_action(host(schema, ops), "purge_selected", [row], post="yes")
        assert response.status_code == 200
        assert rows_in(schema) == []

    ops.delete()  # in the public schema; audit rows in acme and beta still name the user

    for schema in ("acme", "beta"):
        with schema_context(schema):
            event = TokenAuditEvent.objects.get(action="purged")
            assert (event.actor_name, event.source) == ("ops", "admin")
        listing = host(schema, admin_user).get(reverse(AUDIT_CHANGELIST) + "?action=purged")
        assert "ops (deleted user)" in listing.content.decode()
        page = host(schema, admin_user).get(
            reverse("admin:zoho_tokens_tokenauditevent_change", args=[event.pk])
        )
        assert page.status_code == 200
        assert "ops (deleted user)" in page.content.decode()


# -- zoho_tokens in SHARED_APPS ---------------------------------------------------------------


@shared_mode
def test_shared_table_lives_in_public():
    assert installed_here()
    with schema_context("acme"):
        assert installed_here()
        assert "zoho_tokens_zohotoken" not in connection.introspection.table_names()


@shared_mode
def test_schema_context_is_the_tenant_and_never_leaks(fake_zoho, zoho):
    acme = connect_in("acme", fake_zoho, "ann@example.com", "700000001")
    beta = connect_in("beta", fake_zoho, "ann@example.com", "700000001")
    default = connect_in("public", fake_zoho, "root@example.com", "700000009")
    assert (acme.tenant, beta.tenant, default.tenant) == ("acme", "beta", "")
    assert rows_in("public") == [
        ("", "root@example.com:700000009"),
        ("acme", "ann@example.com:700000001"),
        ("beta", "ann@example.com:700000001"),
    ]
    for schema, mine, others in (
        ("acme", acme, [beta, default]),
        ("beta", beta, [acme, default]),
        ("public", default, [acme, beta]),
    ):
        with schema_context(schema):
            assert current_tenant() == ("" if schema == "public" else schema)
            store = DjangoTokenStore()
            found = store.find_token(by_name(mine))
            assert found is not None and found.get_id() == mine.pk
            ids = {t.get_id() for t in store.get_tokens()}
            assert ids == {mine.pk}
            for other in others:
                if other.user_name != mine.user_name:
                    assert store.find_token(by_name(other)) is None
                with pytest.raises(TokenStoreError, match="no Zoho token with id"):
                    store.find_token_by_id(other.pk)


@shared_mode
def test_use_zoho_follows_the_schema(fake_zoho, zoho):
    acme = connect_in("acme", fake_zoho, "ann@acme.example", "700000001")
    beta = connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    with schema_context("acme"), use_zoho() as row:
        assert row.pk == acme.pk
        assert current_email() == "ann@acme.example"
    with schema_context("beta"), use_zoho() as row:
        assert row.pk == beta.pk
        assert current_email() == "bob@beta.example"
    # Another tenant inside a schema is refused, not served.
    with schema_context("acme"):
        with pytest.raises(ConfigurationError, match="schema_context") as mismatch:
            with use_zoho(tenant="beta"):
                pass
        assert mismatch.value.code == "tenant"
        with pytest.raises(ConfigurationError):
            with tenant_context("beta"):
                pass
    with pytest.raises(NoConnection):  # public: tenant "" has no connection
        with use_zoho():
            pass


@shared_mode
def test_web_flow_on_a_tenant_host_connects_that_tenant(fake_zoho, zoho, admin_user):
    browser = host("acme", admin_user)
    _, query = start_connect(browser)
    code = fake_zoho.add_grant(email="ann@acme.example", zgid="700000077")
    params = {"state": query["state"], "code": code, "location": "us"}
    response = browser.get(CALLBACK, {**params, "accounts-server": fake_zoho.url})
    assert response.status_code == 302
    assert rows_in("public") == [("acme", "ann@acme.example:700000077")]
    # The public host is the default tenant: refused without ALLOW_DEFAULT_TENANT.
    response = host("public", admin_user).get(reverse("zoho_tokens:connect"))
    assert response.status_code == 403


def test_a_global_permission_does_not_connect_on_another_tenants_host(settings, zoho, fake_zoho):
    """Issue 21, finding 1: permissions live in the public schema, so a user allowed to
    connect on acme's host held the same permission on beta's host."""
    from django.core.checks import run_checks

    from tests.factories import UserFactory
    from tests.helpers import may_connect
    from zoho_tokens.checks import CheckId

    settings.ZOHO_TOKENS = {**zoho, "CONNECT_PERMISSION": "zoho_tokens.add_zohotoken"}
    eve = may_connect(UserFactory(username="eve"))
    response = host("beta", eve).get(reverse("zoho_tokens:connect"))
    assert response.status_code == 403
    assert "cannot tell tenants apart" in response.content.decode()
    assert fake_zoho.counters["requests"] == 0
    found = [m for m in run_checks() if m.id == CheckId.TENANT_BLIND_CONNECT_PERMISSION]
    assert len(found) == 1


@shared_mode
def test_commands_in_a_real_process_use_the_schemas_tenant(fake_zoho, manage):
    login_in(manage, "acme", fake_zoho, "ann@acme.example", "700000001")
    login_in(manage, "beta", fake_zoho, "bob@beta.example", "700000002")
    assert rows_in("public") == [
        ("acme", "ann@acme.example:700000001"),
        ("beta", "bob@beta.example:700000002"),
    ]
    # One table: a sweep from the public schema covers every tenant.
    done = manage("zoho_tokens", "refresh", "--expiring-within", "7200")
    assert done.returncode == 0, done.stderr
    assert "refresh: 2 refreshed, 0 failed" in done.stdout
    listed = manage("tenant_command", "zoho_tokens", "--schema=beta", "list", "--tenant", "beta")
    assert "bob@beta.example:700000002" in listed.stdout
    assert "ann@acme.example" not in listed.stdout


@shared_mode
def test_admin_shows_every_tenant_on_the_public_host(fake_zoho, zoho, admin_user):
    acme = connect_in("acme", fake_zoho, "ann@acme.example", "700000001")
    beta = connect_in("beta", fake_zoho, "bob@beta.example", "700000002")
    response = host("public", admin_user).get(changelist_url())
    assert response.status_code == 200
    assert {r.pk for r in response.context["cl"].result_list} == {acme.pk, beta.pk}
