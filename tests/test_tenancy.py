"""Tenant isolation: a store scoped to tenant A never reads, refreshes or deletes B's tokens."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken

from tests.factories import ZohoTokenFactory
from tests.helpers import by_name, now_ms, oauth_token
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.tenancy import TenantMiddleware, current_tenant, tenant_context

pytestmark = pytest.mark.django_db

SAME_USER = "ann@example.com:700000042"
CLIENT_ID, CLIENT_SECRET = "1000.TENANTCLIENT", "tenant-client-secret"


@pytest.fixture
def connection_for(live_token):
    """``connection_for(tenant, expiring=False)``: SAME_USER's live connection in ``tenant``."""

    def make(tenant: str, *, expiring: bool = False) -> ZohoToken:
        return live_token(
            SAME_USER,
            tenant=tenant,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            expires_in_ms=10_000 if expiring else 3_600_000,
        )

    return make


@pytest.fixture
def two_tenants(connection_for):
    return connection_for("a"), connection_for("b")


def test_each_store_finds_only_its_own_token_for_the_same_user_name(two_tenants):
    a, b = two_tenants
    assert DjangoTokenStore("a").find_token(by_name(SAME_USER)).get_access_token() == a.access_token
    assert DjangoTokenStore("b").find_token(by_name(SAME_USER)).get_access_token() == b.access_token
    assert DjangoTokenStore("c").find_token(by_name(SAME_USER)) is None
    assert DjangoTokenStore().find_token(by_name(SAME_USER)) is None  # default tenant ""

    assert [t.get_id() for t in DjangoTokenStore("a").get_tokens()] == [a.pk]
    assert [t.get_id() for t in DjangoTokenStore("b").get_tokens()] == [b.pk]

    assert DjangoTokenStore("a").find_token_by_id(a.pk).get_access_token() == a.access_token
    with pytest.raises(TokenStoreError):
        DjangoTokenStore("a").find_token_by_id(b.pk)

    # Looked up by access token (no client credentials): still only within the tenant.
    foreign = OAuthToken(access_token=b.access_token)
    assert DjangoTokenStore("a").find_token(foreign) is None


def test_unpinned_store_follows_the_current_tenant(two_tenants):
    a, b = two_tenants
    store = DjangoTokenStore()
    with tenant_context("a"):
        assert store.find_token(by_name(SAME_USER)).get_id() == a.pk
        with tenant_context("b"):
            assert store.find_token(by_name(SAME_USER)).get_id() == b.pk
        assert current_tenant() == "a"
    assert current_tenant() == ""
    assert store.find_token(by_name(SAME_USER)) is None


def test_refresh_ahead_refreshes_only_the_callers_tenant(fake_zoho, connection_for):
    a = connection_for("a", expiring=True)
    b = connection_for("b", expiring=True)

    found = DjangoTokenStore("a").find_token(by_name(SAME_USER))

    assert fake_zoho.counters["refresh_ok"] == 1
    a_after, b_after = ZohoToken.objects.get(pk=a.pk), ZohoToken.objects.get(pk=b.pk)
    assert a_after.access_token != a.access_token
    assert found.get_access_token() == a_after.access_token
    assert fake_zoho.is_access_token_valid(a_after.access_token)
    assert (b_after.access_token, b_after.expiry_time) == (b.access_token, b.expiry_time)

    DjangoTokenStore("b").find_token(by_name(SAME_USER))
    assert fake_zoho.counters["refresh_ok"] == 2
    assert ZohoToken.objects.get(pk=a.pk).access_token == a_after.access_token


def test_saving_in_one_tenant_leaves_the_same_user_in_another_alone(two_tenants):
    a, b = two_tenants
    token = oauth_token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token="1000.new",
        user_name=SAME_USER,
        access_token="1000.new-access",
        expires_in=now_ms() + 3600 * 1000,
    )
    DjangoTokenStore("a").save_token(token)

    assert token.get_id() == a.pk  # same user in the same tenant: the row is updated
    assert ZohoToken.objects.get(pk=a.pk).access_token == "1000.new-access"
    assert ZohoToken.objects.get(pk=b.pk).access_token == b.access_token
    assert ZohoToken.objects.count() == 2

    # Saving with the other tenant's id does not reach into it.
    stray = OAuthToken(id=b.pk, access_token="1000.stray")
    with pytest.raises(TokenStoreError):
        DjangoTokenStore("a").save_token(stray)
    assert ZohoToken.objects.get(pk=b.pk).access_token == b.access_token


def test_delete_only_touches_the_callers_tenant(two_tenants):
    a, b = two_tenants
    DjangoTokenStore("a").delete_token(b.pk)  # another tenant's id: a no-op
    assert ZohoToken.objects.filter(pk=b.pk).exists()

    c = ZohoTokenFactory(tenant="a")
    DjangoTokenStore("a").delete_tokens()

    assert not ZohoToken.objects.filter(pk__in=[a.pk, c.pk]).exists()
    assert list(ZohoToken.objects.values_list("pk", flat=True)) == [b.pk]
    assert DjangoTokenStore("b").find_token(by_name(SAME_USER)).get_access_token() == b.access_token

    DjangoTokenStore("b").delete_token(b.pk)
    assert not ZohoToken.objects.exists()


def test_middleware_sets_the_tenant_for_the_request_only(settings):
    settings.ZOHO_TOKENS = {"TENANT_RESOLVER": "tests.helpers.tenant_from_header"}
    seen = {}

    def view(request):
        seen["tenant"], seen["attr"] = current_tenant(), request.zoho_tenant
        return HttpResponse()

    middleware = TenantMiddleware(view)
    middleware(RequestFactory().get("/", HTTP_X_TENANT="acme"))
    assert seen == {"tenant": "acme", "attr": "acme"}
    assert current_tenant() == ""

    middleware(RequestFactory().get("/"))
    assert seen == {"tenant": "", "attr": ""}


def test_middleware_accepts_a_callable_returning_a_primary_key(settings):
    settings.ZOHO_TOKENS = {"TENANT_RESOLVER": lambda request: 42}
    seen: list[str] = []

    def view(request):
        seen.append(current_tenant())
        return HttpResponse()

    TenantMiddleware(view)(RequestFactory().get("/"))
    assert seen == ["42"]


def test_without_resolver_the_default_tenant_is_used(settings):
    settings.ZOHO_TOKENS = {}
    seen: list[str] = []

    def view(request):
        seen.append(current_tenant())
        return HttpResponse()

    TenantMiddleware(view)(RequestFactory().get("/"))
    assert seen == [""]
