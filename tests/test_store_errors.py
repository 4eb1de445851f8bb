"""A store error says why in one line: the cause's first line, or a database error's class and
driver code (drivers quote values in their messages, so never their text)."""

from __future__ import annotations

import django.db
import pytest
from django.db import DatabaseError, connection, transaction
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore


def test_without_the_django_db_mark_the_message_says_why():
    """The README's testing snippet without ``@pytest.mark.django_db`` used to end in a bare
    ``RuntimeError``; the reason (pytest-django's blocker) is now in the message."""
    token = OAuthToken(user_signature=UserSignature("ann@example.com:700000001"))
    with pytest.raises(TokenStoreError) as info:
        DjangoTokenStore().find_token(token)
    message = info.value.message
    assert message.startswith("find_token failed in tenant '': RuntimeError: Database access")
    assert '"django_db" mark' in message
    assert "\n" not in message


@pytest.mark.django_db
def test_database_errors_show_class_and_driver_code_never_the_drivers_text(monkeypatch):
    secret = "secret_1000_4f2a9c"

    def failing_query(*args, **kwargs):
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: PG goes on
            cursor.execute(f"SELECT * FROM {secret}")  # the driver's message quotes the name

    monkeypatch.setattr(ZohoToken.objects, "for_tenant", failing_query)
    with pytest.raises(TokenStoreError) as info:
        DjangoTokenStore(tenant="t").get_tokens()
    message = info.value.message
    assert secret not in str(info.value)
    # Not chained either: the driver's error (which quotes the name) and its frames' locals
    # would reach error reports (issue 14).
    assert info.value.__cause__ is None and info.value.__suppress_context__
    cause = {"sqlite": "OperationalError"}.get(connection.vendor, "ProgrammingError")
    assert issubclass(getattr(django.db, cause), DatabaseError)
    expected_code = {"sqlite": "SQLITE_ERROR", "postgresql": "42P01", "mysql": "1146"}
    assert message == (
        f"get_tokens failed in tenant 't': {cause} (driver code {expected_code[connection.vendor]})"
    )


def test_long_reasons_are_cut_to_one_short_line(monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("x" * 500 + "\nsecond line")

    monkeypatch.setattr(ZohoToken.objects, "for_tenant", fail)
    with pytest.raises(TokenStoreError) as info:
        DjangoTokenStore(tenant="t").get_tokens()
    message = info.value.message
    assert message == "get_tokens failed in tenant 't': ValueError: " + "x" * 159 + "…"
