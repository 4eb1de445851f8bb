"""Findings 1 and 4 of issue 21: connecting is decided per tenant, on every path.

- With tenants (a ``TENANT_RESOLVER``; host-based tenants are modelled by a header here), a
  user holding ``zoho_tokens.add_zohotoken`` connected her own Zoho account into tenant B by
  opening B's host: a permission name cannot tell tenants apart. Now every connect is refused
  until ``CONNECT_PERMISSION`` is a callable ``(request, tenant)``, and check E031 says so.
- The admin's "Connect with a grant token" stored into any typed tenant even when the rule
  refused everyone; now its tenant goes through the same rule (a form error), and with
  tenants it is the request's tenant, never a typed one.
- A resolver's answer is typed: ``str``, ``int`` or a model instance (its pk); ``False`` or an
  arbitrary object is a clear error, never ``str(answer)``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import add_url, may_connect
from zoho_tokens import access
from zoho_tokens.checks import CheckId
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.tenancy import TenantMiddleware, as_tenant, current_tenant, tenant_context

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "/zoho/callback/"
RESOLVER = "tests.helpers.tenant_from_header"


def alpha_admins(request, tenant) -> bool:
    """A SaaS project's rule: the user administers exactly this tenant."""
    return tenant == "alpha" and request.user.username == "alpha-admin"


def nobody(request, tenant) -> bool:
    return False


def on_host(user, tenant: str | None) -> Client:
    client = Client(HTTP_X_TENANT=tenant) if tenant is not None else Client()
    client.force_login(user)
    return client


def e031(settings_dict) -> list:
    return [m for m in run_checks() if m.id == CheckId.TENANT_BLIND_CONNECT_PERMISSION]


# -- finding 1: the web flow -------------------------------------------------------------------


def test_a_global_permission_does_not_connect_another_tenants_host(
    settings, zoho_settings_for, fake_zoho
):
    """The reproduced attack: Eve may connect for her tenant; she opens tenant beta's host."""
    settings.ZOHO_TOKENS = {**zoho_settings_for, "TENANT_RESOLVER": RESOLVER}
    eve = may_connect(UserFactory(username="eve"))  # zoho_tokens.add_zohotoken, global

    response = on_host(eve, "beta").get(reverse("zoho_tokens:connect"))

    assert response.status_code == 403
    assert "cannot tell tenants apart" in response.content.decode()
    assert fake_zoho.counters["requests"] == 0
    assert not ZohoToken.objects.exists()


def test_a_per_tenant_callable_connects_only_its_tenant(settings, zoho_settings_for, fake_zoho):
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "TENANT_RESOLVER": RESOLVER,
        "CONNECT_PERMISSION": f"{__name__}.alpha_admins",
        "SUCCESS_URL": "/done/",
    }
    admin = UserFactory(username="alpha-admin")
    assert on_host(admin, "beta").get(reverse("zoho_tokens:connect")).status_code == 403
    client = on_host(admin, "alpha")
    started = client.get(reverse("zoho_tokens:connect"))
    assert started.status_code == 302
    state = started["Location"].split("state=", 1)[1].split("&", 1)[0]
    code = fake_zoho.add_grant(email="ann@alpha.example")
    done = client.get(CALLBACK, {"state": state, "code": code, "accounts-server": fake_zoho.url})
    assert done.status_code == 302
    assert list(ZohoToken.objects.values_list("tenant", flat=True)) == ["alpha"]


@pytest.mark.parametrize("tenants", ["resolver", "schema"])
@pytest.mark.parametrize("permission", ["zoho_tokens.add_zohotoken", None], ids=["name", "none"])
def test_check_e031_errors_for_a_tenant_blind_permission_with_tenants(
    settings, tenants, permission
):
    settings.ZOHO_TOKENS = {
        "CONNECT_PERMISSION": permission,
        **({"TENANT_RESOLVER": RESOLVER} if tenants == "resolver" else {}),
        **({"TENANT_FROM_SCHEMA": True} if tenants == "schema" else {}),
    }
    found = e031(settings.ZOHO_TOKENS)
    assert len(found) == 1 and found[0].level >= 40  # an Error
    assert repr(permission) in found[0].msg and "callable" in found[0].hint


def test_check_e031_is_quiet_for_a_callable_or_without_tenants(settings):
    settings.ZOHO_TOKENS = {"TENANT_RESOLVER": RESOLVER, "CONNECT_PERMISSION": alpha_admins}
    assert e031(settings.ZOHO_TOKENS) == []
    settings.ZOHO_TOKENS = {
        "TENANT_RESOLVER": RESOLVER,
        "CONNECT_PERMISSION": f"{__name__}.alpha_admins",
    }
    assert e031(settings.ZOHO_TOKENS) == []
    settings.ZOHO_TOKENS = {"CONNECT_PERMISSION": "zoho_tokens.add_zohotoken"}
    assert e031(settings.ZOHO_TOKENS) == []


# -- finding 1: the admin's grant-token form ---------------------------------------------------


def post_grant(client: Client, fake_zoho, **extra):
    code = fake_zoho.add_grant(email="mallory@example.com")
    data = {"grant_token": code, "client_id": "", "client_secret": "", "data_center": "us"}
    return client.post(add_url(), {**data, **extra})


def test_the_admin_form_asks_the_rule_for_a_typed_tenant(
    admin_client, settings, zoho_settings_for, fake_zoho
):
    """Reproduced: the rule refused everyone (web connect 403), the admin form stored."""
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_PERMISSION": f"{__name__}.nobody"}

    response = post_grant(admin_client, fake_zoho, tenant="beta")

    assert response.status_code == 200
    assert "not allowed to connect Zoho CRM for this tenant" in response.content.decode()
    assert fake_zoho.counters["token"] == 0
    assert not ZohoToken.objects.exists()


def test_the_admin_form_connects_a_tenant_the_rule_allows(settings, zoho_settings_for, fake_zoho):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_PERMISSION": f"{__name__}.alpha_admins"}
    admin = get_user_model().objects.create_superuser("alpha-admin", "a@example.com", "pw")
    client = on_host(admin, None)
    assert post_grant(client, fake_zoho, tenant="beta").status_code == 200
    assert not ZohoToken.objects.exists()
    assert post_grant(client, fake_zoho, tenant="alpha").status_code == 302
    assert list(ZohoToken.objects.values_list("tenant", flat=True)) == ["alpha"]


def test_with_tenants_the_admin_form_connects_the_requests_tenant_only(
    settings, zoho_settings_for, fake_zoho
):
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "TENANT_RESOLVER": RESOLVER,
        "CONNECT_PERMISSION": f"{__name__}.alpha_admins",
    }
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "zoho_tokens.tenancy.TenantMiddleware"]
    admin = get_user_model().objects.create_superuser("alpha-admin", "a@example.com", "pw")
    on_beta = on_host(admin, "beta")
    assert post_grant(on_beta, fake_zoho, tenant="alpha").status_code == 200  # beta's host
    assert not ZohoToken.objects.exists()
    on_alpha = on_host(admin, "alpha")
    page = on_alpha.get(add_url()).content.decode()
    assert 'name="tenant"' in page and "disabled" in page.split('name="tenant"', 1)[1][:80]
    assert post_grant(on_alpha, fake_zoho, tenant="beta").status_code == 302  # typed: ignored
    assert list(ZohoToken.objects.values_list("tenant", flat=True)) == ["alpha"]
    assert TokenAuditEvent.objects.filter(action="grant_exchanged", tenant="alpha").count() == 1


def test_with_a_tenant_blind_permission_the_admin_form_refuses(
    admin_client, settings, zoho_settings_for, fake_zoho
):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "TENANT_RESOLVER": RESOLVER}
    response = post_grant(admin_client, fake_zoho, tenant="beta")
    assert response.status_code == 200 and "cannot tell tenants apart" in response.content.decode()
    assert fake_zoho.counters["token"] == 0
    assert not ZohoToken.objects.exists()


# -- finding 4: resolver results are typed -----------------------------------------------------


class Company:
    """Not a model: its str() is a display name two companies may share."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


ANSWER: object = None


def resolver_answer(request):
    return ANSWER


def run_middleware(settings, answer) -> str:
    global ANSWER
    ANSWER = answer
    settings.ZOHO_TOKENS = {"TENANT_RESOLVER": f"{__name__}.resolver_answer"}
    seen = {}

    def view(request):
        seen["tenant"] = current_tenant()
        return SimpleNamespace(status_code=200)

    request = RequestFactory().get("/")
    TenantMiddleware(view)(request)
    assert getattr(request, "zoho_tenant", None) == seen["tenant"]
    return seen["tenant"]


def test_a_resolver_may_answer_a_str_an_int_or_a_model_instance(settings):
    user = UserFactory(username="tenant-as-model")
    assert run_middleware(settings, "acme") == "acme"
    assert run_middleware(settings, 42) == "42"
    assert run_middleware(settings, user) == str(user.pk)
    assert run_middleware(settings, None) == ""


@pytest.mark.parametrize(
    "answer",
    [False, True, Company("Acme"), 4.2, b"acme", ["acme"]],
    ids=["false", "true", "company", "float", "bytes", "list"],
)
def test_any_other_resolver_answer_is_a_clear_error(settings, answer):
    with pytest.raises(ConfigurationError) as caught:
        run_middleware(settings, answer)
    assert caught.value.code == "tenant_type"
    message = str(caught.value)
    assert "TENANT_RESOLVER" in message and "resolver_answer" in message
    assert type(answer).__name__ in message and "\n" not in message


def test_an_unsaved_model_instance_is_no_tenant():
    with pytest.raises(ConfigurationError):
        as_tenant(get_user_model()(username="unsaved"))
    with pytest.raises(ConfigurationError):
        with tenant_context(False):  # type: ignore[arg-type]
            pass


def test_the_web_flow_refuses_a_non_string_tenant_like_none(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "CONNECT_PERMISSION": None}
    request = RequestFactory().get("/")
    request.user = UserFactory(username="someone")
    for tenant in (False, True, Company("Acme"), 7):
        assert access.connect_refusal(request, tenant) == access.NO_TENANT
    assert access.connect_refusal(request, "") is None  # no resolver: default tenant allowed


# -- the documented callable: docs/examples/connect_permission.py (trust-boundaries.md) --


def test_the_documented_connect_permission_is_per_tenant(settings, zoho_settings_for):
    from django.contrib.auth.models import Group

    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "TENANT_RESOLVER": RESOLVER,
        "CONNECT_PERMISSION": "docs.examples.connect_permission.may_connect_zoho",
    }
    assert e031(settings.ZOHO_TOKENS) == []
    ann = UserFactory(username="ann-of-alpha")
    ann.groups.add(Group.objects.create(name="zoho-admins:alpha"))
    assert on_host(ann, "alpha").get(reverse("zoho_tokens:connect")).status_code == 302
    assert on_host(ann, "beta").get(reverse("zoho_tokens:connect")).status_code == 403
    assert on_host(ann, None).get(reverse("zoho_tokens:connect")).status_code == 403
