"""Tenant isolation: a store scoped to tenant A never reads, refreshes or deletes B's tokens."""

from __future__ import annotations

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.tenancy import TenantMiddleware, current_tenant, tenant_context

pytestmark = pytest.mark.django_db

SAME_USER = "ann@example.com:700000042"
CLIENT_ID, CLIENT_SECRET = "1000.TENANTCLIENT", "tenant-client-secret"


def tenant_from_header(request) -> str | None:
    return request.headers.get("X-Tenant")


def connection_for(fake_zoho, tenant: str, *, expiring: bool = False) -> ZohoToken:
    """A stored connection of SAME_USER in ``tenant``, with a refresh token the fake knows."""
    refresh = fake_zoho.add_refresh_token(
        email="ann@example.com", zgid="700000042", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    now = int(time.time() * 1000)
    return ZohoTokenFactory(
        tenant=tenant,
        user_name=SAME_USER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        access_token=fake_zoho.issue_access_token(refresh),
        expiry_time=now + (10 * 1000 if expiring else 3600 * 1000),
        api_domain=fake_zoho.url,
    )


def by_name() -> OAuthToken:
    return OAuthToken(user_signature=UserSignature(SAME_USER))


@pytest.fixture
def two_tenants(fake_zoho, zoho_settings_for):
    return connection_for(fake_zoho, "a"), connection_for(fake_zoho, "b")


def test_each_store_finds_only_its_own_token_for_the_same_user_name(two_tenants):
    a, b = two_tenants
    assert DjangoTokenStore("a").find_token(by_name()).get_access_token() == a.access_token
    assert DjangoTokenStore("b").find_token(by_name()).get_access_token() == b.access_token
    assert DjangoTokenStore("c").find_token(by_name()) is None
    assert DjangoTokenStore().find_token(by_name()) is None  # default tenant ""

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
        assert store.find_token(by_name()).get_id() == a.pk
        with tenant_context("b"):
            assert store.find_token(by_name()).get_id() == b.pk
        assert current_tenant() == "a"
    assert current_tenant() == ""
    assert store.find_token(by_name()) is None


def test_refresh_ahead_refreshes_only_the_callers_tenant(fake_zoho, zoho_settings_for):
    a = connection_for(fake_zoho, "a", expiring=True)
    b = connection_for(fake_zoho, "b", expiring=True)

    found = DjangoTokenStore("a").find_token(by_name())

    assert fake_zoho.counters["refresh_ok"] == 1
    a_after, b_after = ZohoToken.objects.get(pk=a.pk), ZohoToken.objects.get(pk=b.pk)
    assert a_after.access_token != a.access_token
    assert found.get_access_token() == a_after.access_token
    assert fake_zoho.is_access_token_valid(a_after.access_token)
    assert (b_after.access_token, b_after.expiry_time) == (b.access_token, b.expiry_time)

    DjangoTokenStore("b").find_token(by_name())
    assert fake_zoho.counters["refresh_ok"] == 2
    assert ZohoToken.objects.get(pk=a.pk).access_token == a_after.access_token


def test_saving_in_one_tenant_leaves_the_same_user_in_another_alone(two_tenants):
    a, b = two_tenants
    token = OAuthToken(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token="1000.new")
    token.set_user_signature(UserSignature(SAME_USER))
    token.set_access_token("1000.new-access")
    token.set_expires_in(str(int(time.time() * 1000) + 3600 * 1000))
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
    assert DjangoTokenStore("b").find_token(by_name()).get_access_token() == b.access_token

    DjangoTokenStore("b").delete_token(b.pk)
    assert not ZohoToken.objects.exists()


def test_middleware_sets_the_tenant_for_the_request_only(settings):
    settings.ZOHO_TOKENS = {"TENANT_RESOLVER": f"{__name__}.tenant_from_header"}
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
    seen = []
    TenantMiddleware(lambda request: seen.append(current_tenant()) or HttpResponse())(
        RequestFactory().get("/")
    )
    assert seen == ["42"]


def test_without_resolver_the_default_tenant_is_used(settings):
    settings.ZOHO_TOKENS = {}
    seen = []
    TenantMiddleware(lambda request: seen.append(current_tenant()) or HttpResponse())(
        RequestFactory().get("/")
    )
    assert seen == [""]
