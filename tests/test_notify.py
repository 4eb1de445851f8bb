"""Notifications (``ZOHO_TOKENS["NOTIFY"]``): one notice per change of a connection's state.

``mail_admins`` sends one mail per change (failing, dead, recovered), not one per failed
call; the webhook posts a signed JSON body to a real local HTTP server; a failing or hanging
webhook never fails or holds up a refresh (it runs in a background thread after commit).
"""

from __future__ import annotations

import hashlib
import hmac
import json

import django
import pytest
from django.core.checks import run_checks

from tests.helpers import Hook, assert_no_secret, now_ms, secrets_of
from zoho_tokens import background, checks, services
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore

EMAIL, ZGID = "nia@example.com", "700000024"
USER = f"{EMAIL}:{ZGID}"
SECRET = "webhook-secret-for-tests-0123456789"


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def notify(cmd_settings, hook):
    cmd_settings["NOTIFY"] = ["mail_admins", "webhook"]
    cmd_settings["WEBHOOK_URL"] = hook.url
    cmd_settings["WEBHOOK_SECRET"] = SECRET
    cmd_settings["WEBHOOK_TIMEOUT"] = 1
    cmd_settings["WEBHOOK_RETRIES"] = 1
    return cmd_settings


@pytest.fixture
def admins(settings):
    # Django 6.0 takes plain addresses (pairs are deprecated); 5.2 only pairs.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )


def reconnect(fake_zoho) -> ZohoToken:
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    return services.exchange_grant(code, accounts_url=fake_zoho.url, source=AuditSource.WEB)


def fail_a_refresh(store: DjangoTokenStore, row: ZohoToken) -> None:
    with pytest.raises(TokenStoreError):
        store.find_token_by_id(row.pk)
    ZohoToken.objects.filter(pk=row.pk).update(refresh_backoff_until=None)


@pytest.mark.django_db
def test_one_mail_and_one_signed_post_per_change_of_state(
    admins, notify, hook, mailoutbox, fake_zoho, live_token, django_capture_on_commit_callbacks
):
    row = live_token(USER, expires_in_ms=2000)
    store = DjangoTokenStore()
    with django_capture_on_commit_callbacks(execute=True):
        fake_zoho.fail_mode = "500"
        for _ in range(4):  # four failed refreshes: one "failing"
            fail_a_refresh(store, row)
        fake_zoho.fail_mode = None
        fake_zoho.revoke_user(EMAIL)
        for _ in range(3):  # dead, and every later call fails without asking Zoho
            with pytest.raises(TokenStoreError, match="invalid"):
                store.find_token_by_id(row.pk)
        reconnect(fake_zoho)
    assert background.join(10)

    # One mail per change; each is sent from its own background thread, so in any order.
    mails = {m.subject.rsplit(":", 2)[0]: m for m in mailoutbox}
    assert len(mailoutbox) == 3 and set(mails) == {
        "[Django] Zoho connection failing",
        "[Django] Zoho connection dead",
        "[Django] Zoho connection recovered",
    }
    assert all(m.subject.endswith(USER) and m.to == ["ops@example.com"] for m in mailoutbox)
    dead_mail = mails["[Django] Zoho connection dead"]
    assert "Reconnect it" in dead_mail.body and "invalid_code" in dead_mail.body

    posts = sorted(hook.received, key=lambda r: json.loads(r[1])["at"])
    assert [json.loads(body)["event"] for _, body in posts] == ["failing", "dead", "recovered"]
    for headers, body in posts:
        stamp = headers["X-Zoho-Tokens-Timestamp"]
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        assert headers["X-Zoho-Tokens-Signature"] == "sha256=" + expected.hexdigest()
        assert headers["Content-Type"] == "application/json"
    dead = json.loads(posts[1][1])
    assert dead["token_id"] == row.pk and dead["user_name"] == USER
    assert dead["zoho_error"] == "invalid_code" and "Reconnect" in dead["text"]
    assert json.loads(posts[0][1])["attempt"] == 1
    everything = [m.message().as_string() for m in mailoutbox] + [b for _, b in posts]
    assert_no_secret(everything, *secrets_of(row), SECRET, where="notifications")


@pytest.mark.django_db
def test_a_hanging_or_failing_webhook_never_holds_up_or_fails_a_refresh(
    notify, hook, fake_zoho, live_token, django_capture_on_commit_callbacks
):
    notify["NOTIFY"] = ["webhook"]
    row = live_token(USER, expires_in_ms=2000)
    store = DjangoTokenStore()
    hook.hang = True
    fake_zoho.fail_mode = "500"
    with django_capture_on_commit_callbacks(execute=True):
        fail_a_refresh(store, row)  # "failing": the webhook is posted, and hangs
    assert hook.entered.wait(10)
    fake_zoho.fail_mode = None
    with django_capture_on_commit_callbacks(execute=True):
        found = store.find_token_by_id(row.pk)  # recovers while the webhook still hangs
    assert found is not None and int(found.get_expires_in()) > now_ms() + 600_000
    assert not hook.release.is_set() and len(hook.received) >= 1
    hook.status, hook.hang = 500, False
    hook.release.set()
    assert background.join(15)  # retried once, then gave up (logged), nothing raised here
    assert [json.loads(b)["event"] for _, b in hook.received].count("recovered") == 2


def test_notify_checks_name_unknown_notifiers_and_an_incomplete_webhook(settings):
    settings.ZOHO_TOKENS = {"NOTIFY": ["mail_admins", "no.such.Notifier", "webhook"]}
    found = {m.id for m in checks.check_notify()}
    assert found == {checks.CheckId.UNKNOWN_NOTIFIER, checks.CheckId.WEBHOOK_INCOMPLETE}
    settings.ZOHO_TOKENS = {
        "NOTIFY": ["webhook"],
        "WEBHOOK_URL": "https://x",
        "WEBHOOK_SECRET": "s",
    }
    assert checks.check_notify() == []
    settings.ZOHO_TOKENS = {}
    assert checks.check_notify() == []
    settings.ZOHO_TOKENS = {"NOTIFY": "webhook"}  # a string, as an environment variable gives
    found = {m.id for m in run_checks()}  # registered with Django's checks
    assert checks.CheckId.WEBHOOK_INCOMPLETE in found
