"""Who may connect Zoho for a tenant through the web flow (finding 5).

- A tenant resolver that maps the user to no tenant does not connect into the default tenant
  (403) unless ``ALLOW_DEFAULT_TENANT`` says so; without a resolver the default tenant is the
  only one and stays allowed.
- ``CONNECT_PERMISSION`` (default ``zoho_tokens.add_zohotoken``, a permission name or a
  callable ``(request, tenant) -> bool``) is checked by connect and again by the callback.
- A malformed ``state`` is a 400, never a 500.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import may_connect
from zoho_tokens.models import ZohoToken
from zoho_tokens.views import SESSION_KEY

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "/zoho/callback/"


def tenant_from_header(request) -> str | None:
    return request.headers.get("X-Tenant")


def acme_admins_only(request, tenant) -> bool:
    return tenant == "acme" and request.user.username.startswith("admin-of-")


def connectors(request, tenant) -> bool:
    """A callable (with tenants a permission name is refused, see test_connect_per_tenant):
    this suite's users are allowed for every tenant by the add permission."""
    return request.user.has_perm("zoho_tokens.add_zohotoken")


@pytest.fixture
def web(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "TENANT_RESOLVER": f"{__name__}.tenant_from_header",
        "CONNECT_PERMISSION": f"{__name__}.connectors",
        "SUCCESS_URL": "/done/",
    }
    return settings


def allowed_user(username: str = "connector"):
    return may_connect(UserFactory(username=username))


def browser_for(user, tenant: str | None = "acme") -> Client:
    client = Client(HTTP_X_TENANT=tenant) if tenant is not None else Client()
    client.force_login(user)
    return client


def connect(client: Client):
    return client.get(reverse("zoho_tokens:connect"))


def state_of(response) -> str:
    assert response.status_code == 302, response.content[:300]
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def finish(client: Client, state: str, fake_zoho, **extra):
    code = fake_zoho.add_grant(email="ann@acme.example")
    params = {"state": state, "code": code, "accounts-server": fake_zoho.url, **extra}
    return client.get(CALLBACK, params)


def bind_state(client: Client, user, tenant: str) -> str:
    """A live state in the session, bound as connect binds it (e.g. before a setting changed)."""
    session = client.session
    state = "S" * 43
    session[SESSION_KEY] = {
        state: {
            "tenant": tenant,
            "user": str(user.pk),
            "redirect_uri": "http://testserver/zoho/callback/",
            "created": int(time.time()),
        }
    }
    session.save()
    return state


# -- the default tenant --------------------------------------------------------------------------


def test_resolver_returning_none_refuses_connect_and_callback(web, fake_zoho):
    user = allowed_user()
    client = browser_for(user, tenant=None)  # the resolver finds no tenant for this user

    response = connect(client)
    assert response.status_code == 403
    assert b"no tenant" in response.content
    assert SESSION_KEY not in client.session

    state = bind_state(client, user, "")
    response = finish(client, state, fake_zoho)
    assert response.status_code == 403
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_allow_default_tenant_lets_a_resolver_without_tenant_connect(web, fake_zoho):
    web.ZOHO_TOKENS = {**web.ZOHO_TOKENS, "ALLOW_DEFAULT_TENANT": True}
    client = browser_for(allowed_user(), tenant=None)
    response = finish(client, state_of(connect(client)), fake_zoho)
    assert response.status_code == 302
    assert ZohoToken.objects.get().tenant == ""


def test_without_a_resolver_the_default_tenant_is_allowed(web, fake_zoho):
    web.ZOHO_TOKENS = {k: v for k, v in web.ZOHO_TOKENS.items() if k != "TENANT_RESOLVER"}
    client = browser_for(allowed_user(), tenant=None)
    response = finish(client, state_of(connect(client)), fake_zoho)
    assert response.status_code == 302
    assert ZohoToken.objects.get().tenant == ""


# -- CONNECT_PERMISSION ---------------------------------------------------------------------------


def test_a_member_without_the_permission_cannot_connect(web, fake_zoho):
    client = browser_for(UserFactory(username="member"))
    response = connect(client)
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
    assert not ZohoToken.objects.exists()


def test_the_callback_checks_the_permission_again(web, fake_zoho):
    user = allowed_user()
    client = browser_for(user)
    state = state_of(connect(client))
    user.user_permissions.clear()  # removed while the user was at Zoho

    response = finish(client, state, fake_zoho)
    assert response.status_code == 403
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_a_permission_name_setting(web, fake_zoho):
    # Without tenants: with them a name cannot tell tenants apart (test_connect_per_tenant).
    blind = {k: v for k, v in web.ZOHO_TOKENS.items() if k != "TENANT_RESOLVER"}
    web.ZOHO_TOKENS = {**blind, "CONNECT_PERMISSION": "zoho_tokens.revoke_zohotoken"}
    assert connect(browser_for(allowed_user())).status_code == 403  # has add, not revoke
    user = UserFactory(username="revoker")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="zoho_tokens", codename="revoke_zohotoken")
    )
    client = browser_for(user)
    assert finish(client, state_of(connect(client)), fake_zoho).status_code == 302


@pytest.mark.parametrize(
    "setting", [acme_admins_only, f"{__name__}.acme_admins_only"], ids=["callable", "path"]
)
def test_a_callable_gets_the_request_and_the_tenant(web, fake_zoho, setting):
    web.ZOHO_TOKENS = {**web.ZOHO_TOKENS, "CONNECT_PERMISSION": setting}
    assert connect(browser_for(UserFactory(username="member"))).status_code == 403
    assert connect(
        browser_for(UserFactory(username="admin-of-x"), tenant="globex")
    ).status_code == (403)
    client = browser_for(UserFactory(username="admin-of-acme"))
    assert finish(client, state_of(connect(client)), fake_zoho).status_code == 302
    assert ZohoToken.objects.get().tenant == "acme"


# -- malformed state ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    ["é" * 43, "ś", "x" * 5000, "abc\x00def", "a b"],
    ids=["accents", "one", "long", "nul", "space"],
)
def test_a_malformed_state_is_a_400(web, fake_zoho, state):
    client = browser_for(allowed_user())
    state_of(connect(client))  # the session has a live state
    response = finish(client, state, fake_zoho)
    assert response.status_code == 400
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()
