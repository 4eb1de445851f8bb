"""Signals: exactly once per operation, after commit, with the documented arguments; the
audit rows and log lines that go with them never hold a secret."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from tests.factories import UserFactory, ZohoTokenFactory
from tests.helpers import assert_no_secret, now_ms, oauth_token, secrets_of
from zoho_tokens import services, signals
from zoho_tokens.context import AuditSource
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.store import DjangoTokenStore


def sdk_token(n: int, **extra) -> OAuthToken:
    return oauth_token(
        client_id="cid",
        client_secret=f"client-secret-{n}",
        refresh_token=f"1000.r.{n}",
        access_token=f"1000.a.{n}",
        expires_in=now_ms() + 3_600_000,
        user_name=f"u{n}@example.com:9{n}",
        **extra,
    )


@pytest.mark.django_db
def test_store_save_sends_token_saved_once_after_commit(rec, django_capture_on_commit_callbacks):
    store = DjangoTokenStore(refresh_ahead=False)
    with django_capture_on_commit_callbacks(execute=True):
        store.save_token(sdk_token(1))
    kw = rec.one("token_saved")
    assert kw["created"] is True and kw["source"] == "sdk"
    assert isinstance(kw["token"], ZohoToken) and kw["token"].user_name == "u1@example.com:91"
    assert rec.names() == ["token_saved"]

    with django_capture_on_commit_callbacks(execute=True):
        store.save_token(sdk_token(1))  # same user, same tokens: an update
    assert [kw["created"] for n, kw in rec.calls if n == "token_saved"] == [True, False]


@pytest.mark.django_db
def test_nothing_is_sent_or_audited_when_the_transaction_rolls_back(
    rec, django_capture_on_commit_callbacks
):
    store = DjangoTokenStore(refresh_ahead=False)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            store.save_token(sdk_token(2))
            store.delete_tokens()
            raise RuntimeError("roll back")
    assert rec.calls == []
    assert TokenAuditEvent.objects.count() == 0
    assert ZohoToken.objects.count() == 0


@pytest.mark.django_db
def test_refresh_through_store_sends_saved_and_refreshed(
    rec, django_capture_on_commit_callbacks, fake_zoho, zoho_settings_for
):
    row = ZohoTokenFactory(expiry_time=now_ms() + 10_000)
    fake_zoho.add_refresh_token(row.refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        DjangoTokenStore().find_token(OAuthToken(user_signature=UserSignature(row.user_name)))
    assert sorted(rec.names()) == ["token_refreshed", "token_saved"]
    assert rec.one("token_refreshed")["source"] == "sdk"
    assert rec.one("token_refreshed")["token"].pk == row.pk
    event = TokenAuditEvent.objects.get(action="refreshed")
    assert (event.token_id, event.user_name, event.source) == (row.pk, row.user_name, "sdk")


@pytest.mark.django_db(transaction=True)
def test_sdk_grant_exchange_sends_grant_exchanged(rec, fake_zoho, init_sdk):
    code = fake_zoho.add_grant(email="g@example.com", zgid="77")
    init_sdk(OAuthToken(client_id="c", client_secret="client-secret-g", grant_token=code))
    kw = rec.one("grant_exchanged")
    assert kw["source"] == "sdk" and kw["actor"] is None
    assert kw["token"].user_name == "g@example.com:77"
    assert rec.one("token_saved")["created"] is True
    event = TokenAuditEvent.objects.get(action="grant_exchanged")
    assert_no_secret([event.detail, event.user_name], *secrets_of(ZohoToken.objects.get()), code)


@pytest.mark.django_db(transaction=True)
def test_command_exchange_sends_grant_exchanged_with_actor(rec, fake_zoho, zoho_settings_for):
    code = fake_zoho.add_grant(email="cmd@example.com", zgid="78")
    user = UserFactory()
    row = services.exchange_grant(code, source=AuditSource.COMMAND, actor=user)
    kw = rec.one("grant_exchanged")
    assert (kw["source"], kw["actor"], kw["token"].pk) == ("command", user, row.pk)
    event = TokenAuditEvent.objects.get(action="grant_exchanged")
    assert (event.actor, event.actor_name, event.source) == (user, user.username, "command")


@pytest.mark.django_db
def test_store_delete_sends_token_deleted(rec, django_capture_on_commit_callbacks):
    row = ZohoTokenFactory()
    with django_capture_on_commit_callbacks(execute=True):
        DjangoTokenStore().delete_token(row.pk)
        DjangoTokenStore().delete_token(row.pk)  # idempotent: nothing more to announce
    kw = rec.one("token_deleted")
    assert (kw["token"].pk, kw["actor"], kw["source"]) == (row.pk, None, "sdk")


@pytest.mark.django_db
def test_delete_tokens_sends_tokens_purged_once(rec, django_capture_on_commit_callbacks):
    rows = ZohoTokenFactory.create_batch(3)
    ZohoTokenFactory(tenant="other")
    with django_capture_on_commit_callbacks(execute=True):
        DjangoTokenStore().delete_tokens()
    kw = rec.one("tokens_purged")
    assert kw["count"] == 3 and sorted(kw["token_ids"]) == sorted(r.pk for r in rows)
    assert (kw["actor"], kw["source"]) == (None, "sdk")
    assert "token_deleted" not in rec.names()


@pytest.mark.django_db
def test_service_revoke_sends_revoked_and_deleted(
    rec, django_capture_on_commit_callbacks, fake_zoho, zoho_settings_for
):
    user = UserFactory()
    row = ZohoTokenFactory(api_domain=fake_zoho.url)
    fake_zoho.add_refresh_token(row.refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.revoke(row, source=AuditSource.COMMAND, actor=user)
    assert outcome.ok and (outcome.status == "revoked")
    revoked = rec.one("token_revoked")
    assert (revoked["remote"], revoked["actor"], revoked["source"]) == (True, user, "command")
    assert rec.one("token_deleted")["token"].pk == row.pk
    event = TokenAuditEvent.objects.get(action="revoked")
    assert event.detail == {"remote": True} and event.actor == user


@pytest.mark.django_db
def test_service_purge_sends_tokens_purged(rec, django_capture_on_commit_callbacks):
    rows = ZohoTokenFactory.create_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        services.purge(ZohoToken.objects.all(), source=AuditSource.ADMIN)
    kw = rec.one("tokens_purged")
    assert kw["count"] == 2 and set(kw["token_ids"]) == {r.pk for r in rows}
    assert kw["source"] == "admin"


@pytest.mark.django_db
def test_failed_refresh_marks_invalid_and_audits_without_success_signal(
    rec, django_capture_on_commit_callbacks, fake_zoho, zoho_settings_for
):
    row = ZohoTokenFactory(expiry_time=now_ms() - 1000)  # unknown at the fake
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception) as info:
        DjangoTokenStore().find_token_by_id(row.pk)
    assert "invalid" in str(info.value)
    row.refresh_from_db()
    assert row.invalid_reason == "invalid_code" and row.status() == "invalid"
    event = TokenAuditEvent.objects.get(action="refresh_failed")
    assert event.detail == {
        "zoho_error": "invalid_code",
        "reason": "refused",
        "attempt": 1,
        "backoff_until": None,
    }
    assert TokenAuditEvent.objects.get(action="invalidated").outcome == "invalid"
    assert rec.names() == ["token_refresh_failed", "token_invalidated"]


@pytest.mark.django_db
def test_audit_rows_and_log_lines_hold_no_secret(
    caplog, django_capture_on_commit_callbacks, fake_zoho, zoho_settings_for
):
    caplog.set_level(logging.INFO, logger="zoho_tokens.audit")
    store = DjangoTokenStore(refresh_ahead=False)
    token = sdk_token(5, grant_token="1000.grant.5")
    with django_capture_on_commit_callbacks(execute=True):
        store.save_token(token)
        row = ZohoToken.objects.get()
        known = secrets_of(row)
        update = OAuthToken(id=row.pk)
        update.set_access_token("1000.a.new5")
        store.save_token(update)
        store.delete_token(row.pk)
    known.append("1000.a.new5")
    events = list(TokenAuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["grant_exchanged", "refreshed", "deleted"]
    for event in events:
        assert (event.token_id, event.user_name, event.tenant) == (row.pk, "u5@example.com:95", "")
        assert event.source == "sdk"
    records = [r for r in caplog.records if r.name == "zoho_tokens.audit"]
    assert len(records) >= 3
    assert {r.zoho_tokens["action"] for r in records} >= {"grant_exchanged", "deleted", "saved"}
    assert all(r.zoho_tokens["token_id"] == row.pk for r in records)
    texts = [r.getMessage() for r in records] + [repr(r.__dict__) for r in records]
    texts += [repr((e.detail, e.user_name, e.outcome)) for e in events]
    assert_no_secret(texts, *known)


@pytest.mark.django_db
def test_audit_log_off_means_no_rows_but_signals(
    rec, settings, caplog, django_capture_on_commit_callbacks
):
    settings.ZOHO_TOKENS = {"AUDIT_LOG": False}
    caplog.set_level(logging.INFO, logger="zoho_tokens.audit")
    with django_capture_on_commit_callbacks(execute=True):
        DjangoTokenStore(refresh_ahead=False).save_token(sdk_token(6))
    assert rec.one("token_saved")["created"] is True
    assert TokenAuditEvent.objects.count() == 0
    assert not [r for r in caplog.records if r.name == "zoho_tokens.audit"]


@pytest.mark.django_db
def test_failing_receiver_does_not_fail_the_save(django_capture_on_commit_callbacks, caplog):
    def broken(sender, **kwargs):
        raise ValueError("receiver bug")

    signals.token_saved.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            DjangoTokenStore(refresh_ahead=False).save_token(sdk_token(7))
    finally:
        signals.token_saved.disconnect(broken)
    assert ZohoToken.objects.count() == 1
    assert any(
        "receiver" in r.getMessage() and "ValueError" in r.getMessage() for r in caplog.records
    )
