"""``rotate-keys`` on values written in clear by raw SQL: encrypted *and* findable afterwards.

Issue 14, point 7: rotate-keys encrypted a clear-text token but left its checksum column as
the raw write left it (empty), so ``find_token`` by that token missed the row.
"""

from __future__ import annotations

import pytest
from django.db import connection
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken

from tests.factories import ZohoTokenFactory, zoho_like
from tests.helpers import command_output
from zoho_tokens import crypto
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore


def write_in_clear(pk: str, **values: str) -> None:
    """What a raw SQL write does: clear values, checksum columns left empty."""
    columns = [*values, *(f"{name}_checksum" for name in values if name != "client_secret")]
    params = [*values.values(), *("" for name in values if name != "client_secret")]
    table = connection.ops.quote_name(ZohoToken._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*params, pk])


def access_only(access: str) -> OAuthToken:
    token = OAuthToken.__new__(OAuthToken)
    for name in ("id", "user_signature", "client_id", "client_secret", "refresh_token"):
        getattr(token, f"set_{name}")(None)
    for name in ("grant_token", "expires_in", "redirect_url", "api_domain"):
        getattr(token, f"set_{name}")(None)
    token.set_access_token(access)
    return token


@pytest.mark.django_db
def test_rotate_keys_gives_cleartext_values_their_checksums(settings):
    row = ZohoTokenFactory(user_name=None, tenant="acme")
    refresh, access, secret = zoho_like(), zoho_like(), "clear-client-secret"
    write_in_clear(row.pk, refresh_token=refresh, access_token=access, client_secret=secret)
    assert DjangoTokenStore("acme", refresh_ahead=False).find_token(access_only(access)) is None

    out, _ = command_output("zoho_tokens", "rotate-keys")

    assert "0 unreadable" in out
    raw = ZohoToken.objects.filter(pk=row.pk).values(
        "refresh_token", "access_token", "client_secret", "refresh_token_checksum"
    )[0]
    assert all(crypto.is_encrypted(raw[name]) for name in ("refresh_token", "access_token"))
    assert crypto.is_encrypted(raw["client_secret"])
    assert raw["refresh_token_checksum"] == crypto.checksum(refresh)
    found = DjangoTokenStore("acme", refresh_ahead=False).find_token(access_only(access))
    assert found is not None
    assert (found.get_id(), found.get_refresh_token()) == (row.pk, refresh)
    assert found.get_client_secret() == secret
