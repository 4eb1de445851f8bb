"""No secret in any frame of any error the package raises or chains (finding 3).

Error reports (Django's error page and e-mails, Sentry) show every frame's local variables of
the exception and of its ``__cause__`` / ``__context__`` chain. After forcing real database
failures and real Zoho failures through save_token, find_token, refresh, exchange and
revoke, these tests walk all of it and look for every secret involved. Variables a function
marks with Django's ``sensitive_variables`` count as hidden (as Django's reporter hides them).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.views.debug import SafeExceptionReporterFilter
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import ZohoTokenFactory
from tests.helpers import exceptions_in
from zoho_tokens import services
from zoho_tokens.exceptions import ZohoTokensError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

TESTS = str(Path(__file__).resolve().parent)
KEY = Fernet.generate_key().decode()
CLIENT_ID, CLIENT_SECRET = "1000.TRACECLIENT", "trace-client-secret-0123456789"
USER = "trace@example.com:700000031"


def shown(exc: BaseException) -> list[str]:
    """What an error report can show: each error's text and attributes, and the local
    variables of every frame of every traceback in the chain (the tests' own frames aside)."""
    reporter = SafeExceptionReporterFilter()
    texts = []
    for error in exceptions_in(exc):
        texts += [str(error), repr(error), repr(getattr(error, "__dict__", {}))]
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if not frame.f_code.co_filename.startswith(TESTS):
                where = f"{frame.f_code.co_filename}:{frame.f_code.co_name}"
                for name, value in reporter.get_traceback_frame_variables(None, frame):
                    texts.append(f"{where} {name}={value!r}")
            tb = tb.tb_next
    return texts


def assert_no_secret(exc: BaseException, secrets) -> None:
    secrets = {s for s in secrets if s}
    assert len(secrets) >= 2
    leaks = [text for text in shown(exc) for secret in secrets if secret in text]
    assert leaks == [], "\n".join(leaks)[:3000]


@pytest.fixture
def keyed(settings, zoho_settings_for):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ENCRYPTION_KEYS": [KEY]}
    return settings.ZOHO_TOKENS


def secrets_of(row: ZohoToken, fake_zoho, settings_dict) -> set[str]:
    return {
        row.client_secret,
        row.refresh_token,
        row.access_token,
        row.grant_token,
        KEY,
        settings_dict["CLIENT_SECRET"],
        *fake_zoho.issued_secrets(),
    }


def connected(fake_zoho, tenant: str = "", *, expired: bool = False) -> ZohoToken:
    refresh = fake_zoho.add_refresh_token(
        email="trace@example.com",
        zgid="700000031",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    now = int(time.time() * 1000)
    return ZohoTokenFactory(
        tenant=tenant,
        user_name=USER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=refresh,
        access_token=fake_zoho.issue_access_token(refresh),
        grant_token="1000.trace-grant-token.used",
        expiry_time=now - 1000 if expired else now + 3600_000,
        api_domain=fake_zoho.url,
        accounts_server=fake_zoho.url,
    )


def full_token(token_id: str | None = None) -> OAuthToken:
    token = OAuthToken(
        client_id=CLIENT_ID,
        client_secret="save-secret-client-0123456789",
        refresh_token="1000.save-refresh-secret",
        grant_token="1000.save-grant-secret",
    )
    token.set_user_signature(UserSignature("saver@example.com:1"))
    token.set_access_token("1000.save-access-secret")
    token.set_expires_in(str(int(time.time() * 1000) + 3600_000))
    if token_id:
        token.set_id(token_id)
    return token


SAVE_SECRETS = {
    "save-secret-client-0123456789",
    "1000.save-refresh-secret",
    "1000.save-grant-secret",
    "1000.save-access-secret",
}


HIDDEN = "zt_hidden_for_test"


def hide_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE zoho_tokens_zohotoken RENAME TO {HIDDEN}")


def restore_table() -> None:
    """Put the table back if it is still hidden (on SQLite and PostgreSQL a rolled-back
    transaction has already undone the rename; MySQL's DDL commits at once)."""
    connection.close()  # leave whatever transaction state the failure left behind
    if HIDDEN in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {HIDDEN} RENAME TO zoho_tokens_zohotoken")


@contextlib.contextmanager
def table_gone() -> Iterator[None]:
    """The token table disappears (a failed deploy, a dropped schema): every query fails."""
    hide_table()
    try:
        yield
    finally:
        restore_table()


def raised(call) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


# -- database failures ---------------------------------------------------------------------


@pytest.mark.django_db
def test_save_token_integrity_error(keyed, fake_zoho):
    other = connected(fake_zoho, tenant="other")
    # Saving tenant a's token under tenant other's id: the primary key refuses the insert.
    exc = raised(
        lambda: DjangoTokenStore("a", refresh_ahead=False).save_token(full_token(other.pk))
    )
    assert isinstance(exc, ZohoTokensError)
    assert_no_secret(exc, SAVE_SECRETS | secrets_of(other, fake_zoho, keyed))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["save_token", "find_by_refresh", "find_by_name", "by_id"])
def test_store_calls_with_the_table_gone(keyed, fake_zoho, operation):
    row = connected(fake_zoho)
    store = DjangoTokenStore(refresh_ahead=False)
    calls = {
        "save_token": lambda: store.save_token(full_token()),
        "find_by_refresh": lambda: store.find_token(
            OAuthToken(
                client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=row.refresh_token
            )
        ),
        "find_by_name": lambda: store.find_token(OAuthToken(user_signature=UserSignature(USER))),
        "by_id": lambda: store.find_token_by_id(row.pk),
    }
    with table_gone():
        exc = raised(calls[operation])
    assert isinstance(exc, ZohoTokensError)
    assert_no_secret(exc, SAVE_SECRETS | secrets_of(row, fake_zoho, keyed))


@pytest.mark.django_db(transaction=True)
def test_revoke_with_the_table_gone_after_zoho_answered(keyed, fake_zoho, monkeypatch):
    row = connected(fake_zoho)
    from zoho_tokens import rows

    real_delete = rows.delete

    def delete_without_table(*args, **kwargs):
        hide_table()
        return real_delete(*args, **kwargs)

    monkeypatch.setattr(rows, "delete", delete_without_table)
    try:
        exc = raised(lambda: services.revoke(row))
    finally:
        restore_table()
    assert_no_secret(exc, secrets_of(row, fake_zoho, keyed))


# -- Zoho failures -------------------------------------------------------------------------

ZOHO_FAILURES = ["500", "garbage", "unreachable", "revoked", "wrong_client"]


def fail(fake_zoho, mode: str, row: ZohoToken | None = None) -> None:
    if mode in ("500", "garbage"):
        fake_zoho.fail_mode = mode
    elif mode == "unreachable":
        fake_zoho.stop()
    elif mode == "revoked":
        fake_zoho.revoke_all()
    elif mode == "wrong_client" and row is not None:
        ZohoToken.objects.filter(pk=row.pk).update(client_secret="wrong-client-secret-0123")


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ZOHO_FAILURES)
def test_find_token_refreshing_an_expired_token(keyed, fake_zoho, mode):
    row = connected(fake_zoho, expired=True)
    secrets = secrets_of(row, fake_zoho, keyed) | {"wrong-client-secret-0123"}
    fail(fake_zoho, mode, row)
    exc = raised(
        lambda: DjangoTokenStore().find_token(OAuthToken(user_signature=UserSignature(USER)))
    )
    assert_no_secret(exc, secrets)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ZOHO_FAILURES)
def test_refresh_now(keyed, fake_zoho, mode):
    row = connected(fake_zoho)
    secrets = secrets_of(row, fake_zoho, keyed) | {"wrong-client-secret-0123"}
    fail(fake_zoho, mode, row)
    exc = raised(lambda: services.refresh_now(ZohoToken.objects.get(pk=row.pk)))
    assert_no_secret(exc, secrets)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["500", "garbage", "unreachable", "used_code", "wrong_client"])
def test_exchange_grant(keyed, fake_zoho, mode):
    code = fake_zoho.add_grant(
        email="x@example.com", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    if mode == "used_code":
        services.exchange_grant(code, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    else:
        fail(fake_zoho, mode)
    secret = "wrong-client-secret-0123" if mode == "wrong_client" else CLIENT_SECRET
    exc = raised(lambda: services.exchange_grant(code, client_id=CLIENT_ID, client_secret=secret))
    assert_no_secret(exc, {code, secret, KEY, *fake_zoho.issued_secrets()})


@pytest.mark.django_db
def test_exchange_grant_that_cannot_be_stored(keyed, fake_zoho):
    other = connected(fake_zoho, tenant="other")
    code = fake_zoho.add_grant(email="y@example.com", client_id=CLIENT_ID)
    # A user name longer than the column: the exchange succeeds, the save is refused.
    fake_zoho.add_grant(code, email="y" * 300 + "@example.com", client_id=CLIENT_ID)
    exc = raised(
        lambda: services.exchange_grant(code, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    )
    assert_no_secret(exc, {code, *secrets_of(other, fake_zoho, keyed)})


# -- error reports of the admin's connect page ------------------------------------------------


@pytest.mark.django_db
def test_the_admin_connect_page_error_report_hides_the_grant_and_the_secret(
    admin_client, zoho_settings_for, monkeypatch
):
    """An unexpected failure while connecting: the error report (what Django e-mails to the
    ADMINS and logs) hides the posted grant token and client secret."""
    from django.core.signals import got_request_exception
    from django.views.debug import ExceptionReporter

    def broken(*args, **kwargs):
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr(services, "exchange_grant", broken)
    caught = []

    def keep(sender, request, **kwargs):
        import sys

        caught.append((request, sys.exc_info()))

    got_request_exception.connect(keep)
    admin_client.raise_request_exception = False
    try:
        response = admin_client.post(
            "/admin/zoho_tokens/zohotoken/add/",
            {
                "grant_token": "1000.posted-grant-token-secret",
                "client_id": "1000.POSTED",
                "client_secret": "posted-client-secret-0123456789",
                "data_center": "us",
                "tenant": "",
            },
        )
    finally:
        got_request_exception.disconnect(keep)
    assert response.status_code == 500
    request, (kind, exc, tb) = caught[0]
    report = ExceptionReporter(request, kind, exc, tb, is_email=True).get_traceback_text()
    assert "client_id" in report  # the POST section is there
    for secret in ("1000.posted-grant-token-secret", "posted-client-secret-0123456789"):
        assert secret not in report
