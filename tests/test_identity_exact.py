"""Tenants, user names and ids compare exactly on every backend (issue 14, finding 1).

MySQL/MariaDB compare strings with the column's collation; the server default
(``utf8mb4_general_ci``) ignores case, accents and trailing spaces, so without care a store for
tenant ``ACME`` would read, overwrite and delete tenant ``acme``'s token. These tests run on
every backend; CI also runs them on a MariaDB database created with the server's default
collation (``ZOHO_TOKENS_TEST_MYSQL_DEFAULT_COLLATION=1``).
"""

from __future__ import annotations

import os
import time

import pytest
from django.core.checks import Error
from django.db import connection
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from zoho_tokens import checks, collation
from zoho_tokens.checks import CheckId
from zoho_tokens.exceptions import NoConnection, TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.sdk import use_zoho
from zoho_tokens.store import DjangoTokenStore

USER = "ann@example.com:700000042"
CLIENT_ID, CLIENT_SECRET = "1000.EXACTCLIENT", "exact-client-secret"
#: Equal to "acme" under utf8mb4_general_ci (case, accent) or any PAD SPACE collation.
LOOK_ALIKES = ["ACME", "Acme", "acmé", "acme "]


def token_for(user_name: str, access: str, refresh: str = "") -> OAuthToken:
    token = OAuthToken(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=refresh or f"{access}.r"
    )
    token.set_user_signature(UserSignature(user_name))
    token.set_access_token(access)
    token.set_expires_in(str(int(time.time() * 1000) + 3600 * 1000))
    return token


@pytest.fixture
def acme(db):
    return ZohoTokenFactory(
        tenant="acme", user_name=USER, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )


def assert_untouched(row: ZohoToken) -> None:
    stored = ZohoToken.objects.get(pk=row.pk)
    assert (stored.tenant, stored.user_name) == (row.tenant, row.user_name)
    assert (stored.access_token, stored.refresh_token) == (row.access_token, row.refresh_token)


@pytest.mark.django_db
@pytest.mark.parametrize("tenant", LOOK_ALIKES)
def test_a_look_alike_tenant_never_reaches_another_tenants_token(acme, tenant):
    store = DjangoTokenStore(tenant, refresh_ahead=False)

    assert store.find_token(OAuthToken(user_signature=UserSignature(USER))) is None
    assert store.find_token(OAuthToken(access_token=acme.access_token)) is None
    by_refresh = OAuthToken(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=acme.refresh_token
    )
    assert store.find_token(by_refresh) is None
    with pytest.raises(TokenStoreError):
        store.find_token_by_id(acme.pk)
    assert store.get_tokens() == []

    store.delete_token(acme.pk)
    store.delete_tokens()
    assert_untouched(acme)

    with pytest.raises(NoConnection):
        with use_zoho(USER, tenant=tenant):
            pass
    with pytest.raises(NoConnection):
        with use_zoho(tenant=tenant):
            pass

    # Saving the same Zoho user in the look-alike tenant makes its own row.
    mine = token_for(USER, "1000.look-alike-access")
    store.save_token(mine)
    assert mine.get_id() != acme.pk
    assert_untouched(acme)
    assert ZohoToken.objects.get(pk=mine.get_id()).tenant == tenant
    assert store.find_token(OAuthToken(user_signature=UserSignature(USER))).get_id() == (
        mine.get_id()
    )


@pytest.mark.django_db
def test_user_names_differing_in_case_or_trailing_space_are_distinct_users():
    store = DjangoTokenStore("acme", refresh_ahead=False)
    names = ["Ann@x.com:1", "ann@x.com:1", "ann@x.com:1 "]
    for number, name in enumerate(names):
        store.save_token(token_for(name, f"1000.access-{number}"))

    assert ZohoToken.objects.count() == 3
    for number, name in enumerate(names):
        found = store.find_token(OAuthToken(user_signature=UserSignature(name)))
        assert found.get_access_token() == f"1000.access-{number}"
        assert found.get_user_signature().get_name() == name
        with use_zoho(name, tenant="acme") as row:
            assert row.user_name == name


@pytest.mark.django_db
def test_an_id_with_a_trailing_space_is_another_id(acme):
    store = DjangoTokenStore("acme", refresh_ahead=False)
    assert store.find_token_by_id(acme.pk).get_access_token() == acme.access_token
    with pytest.raises(TokenStoreError):
        store.find_token_by_id(acme.pk + " ")
    store.delete_token(acme.pk + " ")
    assert_untouched(acme)


def test_exact_collation_names():
    assert collation.is_exact("utf8mb4_nopad_bin")
    assert collation.is_exact("utf8mb4_0900_bin")
    assert collation.is_exact("binary")
    for loose in ("utf8mb4_bin", "utf8mb4_general_ci", "utf8mb4_unicode_ci", "latin1_swedish_ci"):
        assert not collation.is_exact(loose)


@pytest.mark.django_db
def test_check_is_clean_after_migrate():
    assert checks.check_identity_collation(databases=["default"]) == []
    assert checks.check_identity_collation(databases=None) == []  # no database checks asked


@pytest.mark.skipif(
    not os.environ.get("ZOHO_TOKENS_TEST_MYSQL_DEFAULT_COLLATION"),
    reason="only on the CI step that creates the database with the server default",
)
@pytest.mark.django_db
def test_the_database_really_has_the_server_default_collation():
    if connection.vendor != "mysql":
        pytest.skip("MySQL/MariaDB only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@collation_database, @@collation_server")
        database, server = cursor.fetchone()
    assert database == server
    assert not collation.is_exact(database)


def _loosen(cursor) -> None:
    """Give the identity columns a case-, accent- and pad-insensitive collation."""
    if connection.vendor == "mysql":
        cursor.execute(
            "ALTER TABLE zoho_tokens_zohotoken "
            "MODIFY id varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, "
            "MODIFY tenant varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, "
            "MODIFY user_name varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL"
        )
    else:  # PostgreSQL: a nondeterministic (case- and accent-insensitive) ICU collation
        cursor.execute(
            "CREATE COLLATION IF NOT EXISTS zt_loose "
            "(provider = icu, locale = 'und-u-ks-level1', deterministic = false)"
        )
        # The tenant column only: user_name has a text_pattern_ops index (migration 0008),
        # which a nondeterministic collation cannot have.
        cursor.execute(
            "ALTER TABLE zoho_tokens_zohotoken "
            'ALTER COLUMN tenant TYPE varchar(64) COLLATE "zt_loose"'
        )


@pytest.mark.django_db(transaction=True)
def test_a_loose_collation_is_reported_and_lookups_stay_exact_anyway():
    """Defence in depth: with the columns made loose behind our back, the system check says so
    with the exact fix, and every lookup still re-checks tenant and user name in Python."""
    if connection.vendor not in ("mysql", "postgresql"):
        pytest.skip("SQLite compares with BINARY unless a column says otherwise")
    acme = ZohoTokenFactory(tenant="acme", user_name=USER)
    with connection.cursor() as cursor:
        _loosen(cursor)
    try:
        messages = checks.check_identity_collation(databases=["default"])
        assert [m.id for m in messages] == [CheckId.IDENTITY_COLLATION]
        assert isinstance(messages[0], Error)
        assert "tenant" in messages[0].msg
        assert ("user_name" in messages[0].msg) == (connection.vendor == "mysql")
        fix = messages[0].hint

        for tenant in LOOK_ALIKES[:3]:
            store = DjangoTokenStore(tenant, refresh_ahead=False)
            assert store.find_token(OAuthToken(user_signature=UserSignature(USER))) is None
            assert store.find_token(OAuthToken(access_token=acme.access_token)) is None
            with pytest.raises(TokenStoreError):
                store.find_token_by_id(acme.pk)
            assert store.get_tokens() == []
            store.delete_token(acme.pk)
            store.delete_tokens()
            with pytest.raises(NoConnection):
                with use_zoho(USER, tenant=tenant):
                    pass
            # The unique constraint now refuses the look-alike's row: a clear error, and
            # acme's token is neither overwritten nor deleted.
            with pytest.raises(TokenStoreError):
                store.save_token(token_for(USER, "1000.intruder"))
            assert_untouched(acme)

        with connection.cursor() as cursor:
            for statement in collation.statements_in(fix or ""):
                cursor.execute(statement)
        assert checks.check_identity_collation(databases=["default"]) == []
    finally:
        with connection.cursor() as cursor:
            for statement in collation.fix_statements(connection, ZohoToken):
                cursor.execute(statement)
    assert checks.check_identity_collation(databases=["default"]) == []
