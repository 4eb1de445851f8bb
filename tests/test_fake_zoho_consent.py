"""The fake accounts server's consent page and grant codes, over plain HTTP (no redirects followed)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import may_connect
from zoho_tokens.models import ZohoToken

CALLBACK = "https://app.example.com/zoho/callback/"
AUTH = {
    "client_id": "1000.APP",
    "redirect_uri": CALLBACK,
    "scope": "ZohoCRM.modules.ALL,ZohoCRM.users.READ",
    "state": "s-123",
    "response_type": "code",
    "access_type": "offline",
    "prompt": "consent",
}


class Forms(HTMLParser):
    """Every form on a page: its action, method and fields (submit buttons included)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs["action"], "method": attrs["method"], "fields": {}})
        elif tag in ("input", "button") and attrs.get("name") and self.forms:
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms_of(page: str) -> list[dict]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


def submit(fake, form: dict) -> requests.Response:
    return requests.post(fake.url + form["action"], data=form["fields"], allow_redirects=False)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(fake, code: str, secret: str = "app-secret") -> dict:
    data = {
        "grant_type": "authorization_code",
        "client_id": AUTH["client_id"],
        "client_secret": secret,
        "code": code,
        "redirect_uri": CALLBACK,
    }
    return requests.post(fake.token_url, data=data).json()


def test_the_consent_page_lists_the_users_and_approve_redirects_like_zoho(fake_zoho):
    fake_zoho.add_user("ann@example.com", zgid="700000042", org_id="800000001", company="Acme")
    fake_zoho.add_user("bob@example.com", org_id="800000002", company="Bobco")

    page = requests.get(fake_zoho.auth_url, params=AUTH)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for shown in ("ann@example.com", "Acme", "800000001", "bob@example.com", "800000002"):
        assert shown in page.text
    forms = forms_of(page.text)
    approve = [f for f in forms if f["fields"].get("decision") == "approve"]
    assert [f["fields"]["user"] for f in approve] == [
        "ann@example.com:700000042",
        "bob@example.com:700000101",
    ]
    assert all(f["method"] == "post" for f in forms)

    response = submit(fake_zoho, approve[0])

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert set(query) == {"code", "state", "location", "accounts-server"}
    assert (query["state"], query["location"]) == ("s-123", "us")
    assert query["accounts-server"] == fake_zoho.url

    tokens = exchange(fake_zoho, query["code"])
    assert tokens["refresh_token"].startswith("1000.")
    assert tokens["scope"] == AUTH["scope"]
    assert fake_zoho.is_refresh_token_valid(tokens["refresh_token"])
    me = requests.get(
        fake_zoho.url + "/crm/v8/users",
        headers={"Authorization": f"Zoho-oauthtoken {tokens['access_token']}"},
    ).json()
    assert me["users"][0]["email"] == "ann@example.com"
    assert exchange(fake_zoho, query["code"]) == {"error": "invalid_code"}  # one-time


def test_deny_redirects_with_access_denied(fake_zoho):
    fake_zoho.add_user("ann@example.com")
    page = requests.get(fake_zoho.auth_url, params=AUTH)
    [deny] = [f for f in forms_of(page.text) if f["fields"].get("decision") == "deny"]

    response = submit(fake_zoho, deny)

    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {"error": "access_denied", "state": "s-123"}
    assert fake_zoho.fresh_grant_codes() == []


def test_registered_clients_only_and_their_secret_and_redirect_uri(fake_zoho):
    fake_zoho.add_user("ann@example.com")
    fake_zoho.add_client("1000.APP", "app-secret", redirect_uris=[CALLBACK])

    unknown = requests.get(fake_zoho.auth_url, params={**AUTH, "client_id": "1000.OTHER"})
    assert unknown.status_code == 400
    assert "Invalid Client" in unknown.text
    elsewhere = {**AUTH, "redirect_uri": "https://evil.example/cb"}
    assert requests.get(fake_zoho.auth_url, params=elsewhere).status_code == 400
    # A forged POST is checked the same way as the page.
    forged = requests.post(
        fake_zoho.auth_url,
        data={**elsewhere, "decision": "approve", "user": "ann@example.com:700000100"},
        allow_redirects=False,
    )
    assert forged.status_code == 400

    page = requests.get(fake_zoho.auth_url, params=AUTH)
    [approve] = [f for f in forms_of(page.text) if f["fields"].get("decision") == "approve"]
    code = query_of(submit(fake_zoho, approve).headers["Location"])["code"]
    assert exchange(fake_zoho, code, secret="wrong") == {"error": "invalid_client"}
    assert "access_token" in exchange(fake_zoho, code)


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": ""},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "/relative"},
        {"response_type": "token"},
        {"scope": ""},
    ],
)
def test_bad_authorization_requests_get_an_error_page(fake_zoho, change):
    response = requests.get(fake_zoho.auth_url, params={**AUTH, **change}, allow_redirects=False)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Location" not in response.headers


def test_everything_echoed_into_the_page_is_escaped(fake_zoho):
    evil = '"><script>alert(1)</script>'
    fake_zoho.add_user(f"x{evil}@example.com", company=f"Co{evil}")
    params = {
        **AUTH,
        "client_id": f"1000.{evil}",
        "state": evil,
        "scope": f"ZohoCRM.modules.ALL,{evil}",
        "redirect_uri": CALLBACK + "?next=" + evil,
    }

    page = requests.get(fake_zoho.auth_url, params=params)

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    # The values survive the round trip through the hidden fields unchanged.
    [approve] = [f for f in forms_of(page.text) if f["fields"].get("decision") == "approve"]
    assert approve["fields"]["state"] == evil
    response = submit(fake_zoho, approve)
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert (query["state"], query["next"]) == (evil, evil)

    fake_zoho.fresh_grant_codes(mint=True)
    grants_page = requests.get(fake_zoho.grants_url, headers={"Accept": "text/html"})
    assert "<script>" not in grants_page.text


def test_grant_codes_for_the_demo(fake_zoho):
    clock = [1000.0]
    fake_zoho.clock = lambda: clock[0]
    ann = fake_zoho.add_user("ann@example.com", company="Acme")
    bob = fake_zoho.add_user("bob@example.com")
    manual = fake_zoho.add_grant(email="carol@example.com", zgid="700000099")
    assert fake_zoho.add_user("ann@example.com") == ann  # an e-mail is one user
    assert fake_zoho.users() == [ann, bob, fake_zoho.users()[2]]

    assert [g.code for g in fake_zoho.fresh_grant_codes()] == [manual]

    minted = requests.post(fake_zoho.grants_url)
    assert minted.status_code == 201
    listed = requests.get(fake_zoho.grants_url).json()["grants"]
    assert listed == minted.json()["grants"]
    by_user = {g["user_name"]: g for g in listed}
    assert set(by_user) == {ann.user_name, bob.user_name, "carol@example.com:700000099"}
    assert by_user[ann.user_name]["company"] == "Acme"
    assert by_user[ann.user_name]["expires_in"] == 180

    # Minting again gives nobody a second code; a used code is no longer fresh.
    assert len(fake_zoho.fresh_grant_codes(mint=True)) == 3
    assert "access_token" in exchange(fake_zoho, by_user[ann.user_name]["code"])
    left = {g.user.user_name for g in fake_zoho.fresh_grant_codes()}
    assert left == {bob.user_name, "carol@example.com:700000099"}

    # One user's code on demand; unknown users are refused.
    one = requests.post(fake_zoho.grants_url, data={"user": ann.user_name})
    assert ann.user_name in {g["user_name"] for g in one.json()["grants"]}
    assert requests.post(fake_zoho.grants_url, data={"user": "nobody"}).status_code == 400

    # Codes expire after grant_lifetime (Zoho: 3 minutes).
    clock[0] += 181
    assert fake_zoho.fresh_grant_codes() == []
    assert requests.get(fake_zoho.grants_url).json() == {"grants": []}


def test_the_grants_page_for_a_browser(fake_zoho):
    fake_zoho.add_user("ann@example.com")

    minted = requests.post(
        fake_zoho.grants_url, headers={"Accept": "text/html"}, allow_redirects=False
    )
    assert minted.status_code == 303
    assert minted.headers["Location"] == fake_zoho.grants_url

    page = requests.get(fake_zoho.grants_url, headers={"Accept": "text/html"})
    [code] = fake_zoho.fresh_grant_codes()
    assert code.code in page.text
    assert "ann@example.com" in page.text
    assert forms_of(page.text)[0]["action"] == "/fake/grants"


@pytest.mark.django_db(transaction=True)
def test_connect_zoho_crm_through_the_consent_page(fake_zoho, zoho_settings_for):
    """The package's own web flow, with the fake's consent page in Zoho's place."""
    fake_zoho.add_user("ann@example.com", zgid="700000042", company="Acme")
    browser = Client()
    browser.force_login(may_connect(UserFactory(username="owner")))

    to_zoho = browser.get(reverse("zoho_tokens:connect"))["Location"]
    page = requests.get(to_zoho)
    [approve] = [f for f in forms_of(page.text) if f["fields"].get("decision") == "approve"]
    back = submit(fake_zoho, approve).headers["Location"]
    parts = urlsplit(back)
    done = browser.get(parts.path, query_of(back))

    assert done.status_code == 302
    row = ZohoToken.objects.get()
    assert row.user_name == "ann@example.com:700000042"
    assert fake_zoho.is_refresh_token_valid(row.refresh_token)
