"""Bad input to every store method: a clear SDKException or a correct answer, never a raw
database error and never a changed row that should not change."""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db

NASTY = [
    "' OR '1'='1",
    "x'; DROP TABLE zoho_tokens_zohotoken; --",
    '" OR ""="',
    "%",
    "%s",
    "%%s",
    "%(p0)s",
    "_",
    "\\",
    "ünïcødé-用户@例子.公司:٣٤",
    "😀" * 10,
    "a" * 10_000,
    "",
    " ",
]


def snapshot() -> list[tuple]:
    return list(
        ZohoToken.objects.order_by("pk").values_list(
            "pk", "user_name", "access_token_checksum", "refresh_token_checksum", "expiry_time"
        )
    )


@pytest.fixture
def store():
    return DjangoTokenStore(refresh_ahead=False)


@pytest.fixture
def existing():
    return ZohoTokenFactory.create_batch(2)


def test_find_with_nasty_values_matches_nothing(store, existing):
    before = snapshot()
    for value in NASTY:
        assert store.find_token(OAuthToken(user_signature=UserSignature(value))) is None
        assert store.find_token(OAuthToken(access_token=value or "x")) is None
        probe = OAuthToken(client_id="c", client_secret="s", refresh_token=value or "x")
        assert store.find_token(probe) is None
        with pytest.raises(SDKException) as info:
            store.find_token_by_id(value)
        assert info.value.code == "TOKEN_STORE"
        store.delete_token(value)  # no such id: a no-op
    assert snapshot() == before


def test_nul_characters_are_refused_cleanly(store, existing):
    before = snapshot()
    assert store.find_token(OAuthToken(user_signature=UserSignature("a\x00b"))) is None
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="r\x00")
    with pytest.raises(SDKException, match="NUL"):
        store.save_token(token)
    with pytest.raises(SDKException):
        store.find_token_by_id("1\x00")
    assert snapshot() == before


@pytest.mark.parametrize("value", [v for v in NASTY if len(v) < 200 and v.strip()])
def test_nasty_user_names_round_trip_exactly(store, value):
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="1000.r." + value)
    token.set_user_signature(UserSignature(value))
    store.save_token(token)
    found = store.find_token(OAuthToken(user_signature=UserSignature(value)))
    assert found.get_refresh_token() == "1000.r." + value
    assert ZohoToken.objects.get(pk=token.get_id()).user_name == value


def test_user_names_differing_only_in_case_or_trailing_space_are_distinct(store):
    for name in ("Ann@x.com:1", "ann@x.com:1"):
        token = OAuthToken(client_id="c", client_secret="s", refresh_token="1000.r." + name)
        token.set_user_signature(UserSignature(name))
        store.save_token(token)
    found = store.find_token(OAuthToken(user_signature=UserSignature("ann@x.com:1 ")))
    assert found is None
    found = store.find_token(OAuthToken(user_signature=UserSignature("ann@x.com:1")))
    assert found.get_refresh_token() == "1000.r.ann@x.com:1"


def test_long_values_get_a_clear_error_and_change_nothing(store, existing):
    before = snapshot()
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="r")
    token.set_user_signature(UserSignature("u" * 10_000))
    with pytest.raises(SDKException, match="user name is 10000 characters long"):
        store.save_token(token)
    token = OAuthToken(client_id="c" * 300, client_secret="s", refresh_token="r")
    with pytest.raises(SDKException, match="client_id"):
        store.save_token(token)
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="r" * 10_000)
    with pytest.raises(SDKException, match="refresh_token"):
        store.save_token(token)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("setter", "value", "message"),
    [
        ("set_access_token", 123, "access_token must be a string"),
        ("set_refresh_token", b"bytes", "refresh_token must be a string"),
        ("set_client_secret", ["x"], "client_secret must be a string"),
        ("set_expires_in", "soon", "expires_in must be epoch milliseconds"),
        ("set_expires_in", "-5", "out of range"),
        ("set_id", 5, "id must be a string"),
        ("set_user_signature", "not-a-signature", "user_signature must be a UserSignature"),
    ],
)
def test_wrong_types_in_save_raise_clearly(store, existing, setter, value, message):
    before = snapshot()
    token = OAuthToken(client_id="c", client_secret="s", refresh_token="1000.r.wrong")
    getattr(token, setter)(value)
    with pytest.raises(SDKException) as info:
        store.save_token(token)
    assert message in str(info.value)
    assert info.value.code == "TOKEN_STORE"
    assert snapshot() == before


@pytest.mark.parametrize("bad", [None, 42, "token", object(), {"id": "1"}])
def test_save_refuses_non_oauth_tokens(store, bad):
    with pytest.raises(SDKException, match="save_token expects an OAuthToken"):
        store.save_token(bad)


@pytest.mark.parametrize("bad", [None, 42, 4.2, ["1"], b"1"])
def test_find_by_id_and_delete_with_wrong_types(store, existing, bad):
    before = snapshot()
    with pytest.raises(SDKException, match="token id must be a string"):
        store.find_token_by_id(bad)
    if bad is None:
        store.delete_token(bad)
    else:
        with pytest.raises(SDKException, match="token id must be a string"):
            store.delete_token(bad)
    assert snapshot() == before


def test_tenant_must_be_a_string():
    with pytest.raises(SDKException):
        DjangoTokenStore(tenant=5)  # type: ignore[arg-type]  # what is tested


def test_store_errors_keep_the_cause_and_name_the_operation(store, monkeypatch):
    from django.db import OperationalError

    def boom(*args, **kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(ZohoToken.objects, "for_tenant", boom)
    with pytest.raises(SDKException) as info:
        store.get_tokens()
    assert info.value.code == "TOKEN_STORE"
    assert "get_tokens failed" in str(info.value)
    # The cause is kept bare and described; nothing is chained (its frames hold secrets).
    assert isinstance(info.value.cause, OperationalError)
    assert info.value.cause.__traceback__ is None
    # A database error is described by class (and driver code): drivers quote values.
    assert info.value.cause_description == "OperationalError"
    assert info.value.__cause__ is None and info.value.__context__ is None
