"""The same scenarios against the SDK's reference FileStore and DjangoTokenStore.

Deliberate differences (idempotent delete, one row per user name, tenant scoping) are
tested explicitly at the end of this file.
"""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.helpers import oauth_token
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["file", "django"])
def store(request, tmp_path):
    if request.param == "file":
        return FileStore(str(tmp_path / "tokens.csv"))
    # refresh_ahead off: the contract is about storage; refresh-ahead has its own tests.
    return DjangoTokenStore(refresh_ahead=False)


def full_token(n: int = 1, **overrides) -> OAuthToken:
    values = {
        "client_id": f"client-{n}",
        "client_secret": f"secret-{n}",
        "refresh_token": f"1000.refresh.{n}",
        "redirect_url": "https://example.com/cb",
        **overrides,
    }
    return oauth_token(
        access_token=f"1000.access.{n}",
        expires_in="1893456000000",
        api_domain="https://www.zohoapis.com",
        user_name=f"user{n}@example.com:700{n}",
        **values,
    )


def fields(token: OAuthToken) -> dict:
    sig = token.get_user_signature()
    return {
        "id": token.get_id(),
        "user_name": sig.get_name() if sig else None,
        "client_id": token.get_client_id(),
        "client_secret": token.get_client_secret(),
        "refresh_token": token.get_refresh_token(),
        "access_token": token.get_access_token(),
        "grant_token": token.get_grant_token(),
        "expires_in": token.get_expires_in(),
        "redirect_url": token.get_redirect_url(),
        "api_domain": token.get_api_domain(),
    }


def test_save_assigns_new_id_and_find_by_user_name_fills_everything(store):
    token = full_token(1)
    store.save_token(token)
    assert token.get_id() is not None

    probe = OAuthToken(user_signature=UserSignature("user1@example.com:7001"))
    found = store.find_token(probe)
    assert found is probe
    assert fields(found) == fields(token)


def test_find_by_access_token_without_client(store):
    token = full_token(2)
    store.save_token(token)
    probe = OAuthToken(access_token="1000.access.2")
    assert store.find_token(probe) is probe
    assert probe.get_refresh_token() == "1000.refresh.2"
    assert probe.get_user_signature().get_name() == "user2@example.com:7002"


def test_access_token_lookup_ignored_when_client_given(store):
    store.save_token(full_token(3))
    probe = OAuthToken(client_id="client-3", client_secret="secret-3", access_token="1000.access.3")
    # FileStore: access token only matches when client id and secret are both None.
    assert store.find_token(probe) is None


def test_find_by_refresh_token_with_client(store):
    store.save_token(full_token(4))
    probe = OAuthToken(client_id="other", client_secret="other", refresh_token="1000.refresh.4")
    assert store.find_token(probe) is probe
    assert probe.get_access_token() == "1000.access.4"
    # Fields the probe already had are kept, not overwritten from the row.
    assert probe.get_client_id() == "other"


def test_find_by_grant_token_with_client(store):
    token = full_token(5, grant_token="1000.grant.5")
    store.save_token(token)
    probe = OAuthToken(client_id="c", client_secret="s", grant_token="1000.grant.5")
    assert store.find_token(probe) is probe
    assert probe.get_refresh_token() == "1000.refresh.5"


def test_refresh_token_without_client_does_not_match(store):
    store.save_token(full_token(6))
    probe = OAuthToken.__new__(OAuthToken)
    OAuthToken.__init__(probe, client_id="x", client_secret="y", refresh_token="1000.refresh.6")
    probe.set_client_secret(None)
    assert store.find_token(probe) is None


def test_find_unknown_returns_none(store):
    store.save_token(full_token(7))
    assert store.find_token(OAuthToken(user_signature=UserSignature("nobody@x:1"))) is None
    assert store.find_token(OAuthToken(access_token="nope")) is None


def test_find_token_returns_non_oauth_argument_unchanged(store):
    sentinel = object()
    assert store.find_token(sentinel) is sentinel
    assert store.find_token(None) is None


def test_save_upserts_by_id(store):
    token = full_token(8)
    store.save_token(token)
    update = OAuthToken(id=token.get_id())
    update.set_access_token("1000.access.new")
    update.set_expires_in("1999999999999")
    store.save_token(update)
    # None fields were filled from the row before writing it back.
    assert update.get_refresh_token() == "1000.refresh.8"
    found = store.find_token_by_id(token.get_id())
    assert found.get_access_token() == "1000.access.new"
    assert found.get_expires_in() == "1999999999999"
    assert found.get_client_secret() == "secret-8"
    assert len(store.get_tokens()) == 1


def test_save_upserts_by_user_name(store):
    token = full_token(9)
    store.save_token(token)
    again = OAuthToken(user_signature=UserSignature("user9@example.com:7009"))
    again.set_access_token("1000.access.again")
    store.save_token(again)
    assert again.get_id() == token.get_id()
    assert len(store.get_tokens()) == 1
    assert store.find_token_by_id(token.get_id()).get_access_token() == "1000.access.again"


@pytest.mark.parametrize("key", ["refresh_token", "grant_token"])
def test_save_upserts_by_refresh_or_grant_token(store, key):
    token = full_token(10, grant_token="1000.grant.10")
    token.set_user_signature(None)
    store.save_token(token)
    probe_args = {"client_id": "c", "client_secret": "s", key: getattr(token, f"get_{key}")()}
    update = OAuthToken(**probe_args)
    update.set_access_token("1000.access.by-" + key)
    store.save_token(update)
    assert update.get_id() == token.get_id()
    assert len(store.get_tokens()) == 1
    assert store.find_token_by_id(token.get_id()).get_access_token() == "1000.access.by-" + key


def test_save_by_access_token(store):
    token = full_token(11)
    token.set_user_signature(None)
    store.save_token(token)
    update = OAuthToken(access_token="1000.access.11")
    update.set_expires_in("1888888888888")
    store.save_token(update)
    assert update.get_id() == token.get_id()
    assert store.find_token_by_id(token.get_id()).get_expires_in() == "1888888888888"


def test_save_with_unknown_id_inserts_with_that_id(store):
    token = full_token(12)
    token.set_id("4242")
    store.save_token(token)
    assert store.find_token_by_id("4242").get_refresh_token() == "1000.refresh.12"


def test_save_without_any_token_raises(store):
    token = OAuthToken(user_signature=UserSignature("empty@example.com:1"))
    with pytest.raises(SDKException) as info:
        store.save_token(token)
    assert info.value.code == "TOKEN_STORE"
    assert store.get_tokens() == []


def test_find_token_by_missing_id_raises(store):
    with pytest.raises(SDKException) as info:
        store.find_token_by_id("999999")
    assert info.value.code == "TOKEN_STORE"


def test_get_tokens_and_delete_tokens(store):
    for n in (13, 14, 15):
        store.save_token(full_token(n))
    tokens = store.get_tokens()
    assert sorted(t.get_refresh_token() for t in tokens) == [
        "1000.refresh.13",
        "1000.refresh.14",
        "1000.refresh.15",
    ]
    assert all(isinstance(t, OAuthToken) for t in tokens)
    assert {t.get_user_signature().get_name() for t in tokens} == {
        "user13@example.com:70013",
        "user14@example.com:70014",
        "user15@example.com:70015",
    }
    store.delete_tokens()
    assert store.get_tokens() == []


def test_delete_token(store):
    a, b = full_token(16), full_token(17)
    store.save_token(a)
    store.save_token(b)
    store.delete_token(a.get_id())
    assert [t.get_id() for t in store.get_tokens()] == [b.get_id()]


# -- deliberate differences --------------------------------------------------------------


def test_filestore_raises_on_missing_delete_but_we_do_not(tmp_path, db):
    with pytest.raises(SDKException):
        FileStore(str(tmp_path / "t.csv")).delete_token("12345")
    DjangoTokenStore().delete_token("12345")  # idempotent
    DjangoTokenStore().delete_token(None)


def test_one_row_per_user_name_replaces_older_row():
    store = DjangoTokenStore(refresh_ahead=False)
    first = full_token(18)
    first.set_user_signature(None)
    store.save_token(first)
    second = full_token(19)
    store.save_token(second)  # user19, a different row
    # The first row's owner turns out to be the same Zoho user: saving gives it that name.
    first.set_user_signature(UserSignature("user19@example.com:70019"))
    store.save_token(first)
    rows = list(ZohoToken.objects.all())
    assert [r.pk for r in rows] == [first.get_id()]
    assert rows[0].user_name == "user19@example.com:70019"


def test_tenant_scoping():
    a = DjangoTokenStore(tenant="a", refresh_ahead=False)
    b = DjangoTokenStore(tenant="b", refresh_ahead=False)
    token = full_token(20)
    a.save_token(token)
    other = full_token(20)
    b.save_token(other)
    assert ZohoToken.objects.count() == 2
    assert token.get_id() != other.get_id()
    with pytest.raises(SDKException):
        b.find_token_by_id(token.get_id())
    b.delete_token(token.get_id())
    assert ZohoToken.objects.filter(pk=token.get_id()).exists()
    b.delete_tokens()
    assert list(ZohoToken.objects.values_list("tenant", flat=True)) == ["a"]
