"""The admin: every page masks secrets, revoke/purge are audited and permission-gated,
"Add" exchanges a grant token, and the changelist costs the same queries for 3 or 300 rows."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import TokenAuditEventFactory, UserFactory, ZohoTokenFactory
from tests.helpers import CLIENT_SECRET, add_url, change_url, changelist_url, run_action
from tests.helpers import assert_no_secret as assert_text_has_no_secret
from zoho_tokens.models import TokenAuditEvent, ZohoToken

pytestmark = pytest.mark.django_db

AUDIT_CHANGELIST = "admin:zoho_tokens_tokenauditevent_changelist"

PLAIN = {
    "client_secret": "cs-PLAINTEXT-client-secret-4242",
    "refresh_token": "1000.refreshPLAINTEXT0123456789abcdef.0123456789abcdef0123456789abcdef",
    "access_token": "1000.accessPLAINTEXT0123456789abcdef.0123456789abcdef0123456789abcdef",
    "grant_token": "1000.grantPLAINTEXT0123456789abcdef.0123456789abcdef0123456789abcdef",
}


def assert_no_secret(response, *extra: str) -> str:
    """The page holds none of the row's or the settings' secrets; returns its HTML."""
    return assert_text_has_no_secret(
        response.content.decode(),
        *PLAIN.values(),
        CLIENT_SECRET,
        *extra,
        where=response.request["PATH_INFO"],
    )


def only_message(response):
    found = list(response.context["messages"])
    assert len(found) == 1, [str(m) for m in found]
    return found[0]


def staff_with(*codenames: str):
    user = UserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="zoho_tokens", codename__in=codenames)
    )
    return user


@pytest.fixture
def secret_row(zoho_settings_for, fake_zoho):
    # Issued by the fake Zoho (ACCOUNTS_URL): its "invalid token" is a real answer.
    return ZohoTokenFactory(
        user_name="ann@example.com:700000001", accounts_server=fake_zoho.url, **PLAIN
    )


# -- secrets are never rendered ------------------------------------------------------------


def test_changelist_shows_masked_values_only(admin_client, secret_row):
    html = assert_no_secret(admin_client.get(changelist_url()))
    assert "ann@example.com" in html
    assert "700000001" in html
    assert secret_row.masked("refresh_token") not in html  # on the token page, not the list
    assert "Connect with a grant token" in html
    assert "Revoke at Zoho and delete" in html
    assert "Purge (delete locally)" in html
    assert 'value="delete_selected"' not in html


@pytest.mark.parametrize(
    "query", ["?q=ann", "?q=nobody", "?status=active", "?tenant=", "?data_center=us", "?o=4"]
)
def test_filtered_and_searched_changelists_mask_secrets(admin_client, secret_row, query):
    response = admin_client.get(changelist_url() + query)
    assert response.status_code == 200
    assert_no_secret(response)


def test_view_page_and_history_mask_secrets(admin_client, secret_row):
    response = admin_client.get(change_url(secret_row))
    assert response.status_code == 200
    html = assert_no_secret(response)
    for field in PLAIN:
        assert secret_row.masked(field) in html
    assert 'name="_save"' not in html  # view-only page: nothing to submit
    assert "<textarea" not in html
    history = admin_client.get(reverse("admin:zoho_tokens_zohotoken_history", args=[secret_row.pk]))
    assert history.status_code == 200
    assert_no_secret(history)


def test_no_admin_form_edits_or_deletes_a_token(admin_client, secret_row):
    before = ZohoToken.objects.get(pk=secret_row.pk)
    response = admin_client.post(
        change_url(secret_row), {"refresh_token": "1000.evil", "user_name": "mallory"}
    )
    assert response.status_code == 403
    delete = reverse("admin:zoho_tokens_zohotoken_delete", args=[secret_row.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    after = ZohoToken.objects.get(pk=secret_row.pk)
    assert (after.user_name, after.refresh_token) == (before.user_name, PLAIN["refresh_token"])
    # The built-in bulk delete is not an action here, even when forged.
    response = run_action(admin_client, "delete_selected", [secret_row], post="yes")
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
    assert_no_secret(response)


def test_purge_confirmation_lists_user_names_without_secrets(admin_client, secret_row):
    response = run_action(admin_client, "purge_selected", [secret_row])
    assert response.status_code == 200
    html = assert_no_secret(response)
    assert "ann@example.com:700000001" in html
    assert 'name="post" value="yes"' in html
    assert "csrfmiddlewaretoken" in html
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()  # nothing happens before "yes"


def test_audit_pages_mask_secrets(admin_client, admin_user, secret_row, fake_zoho):
    run_action(
        admin_client, "revoke_selected", [secret_row], post="yes"
    )  # unknown at the fake: deleted
    event = TokenAuditEvent.objects.get(action="revoked")
    listing = admin_client.get(reverse(AUDIT_CHANGELIST))
    assert listing.status_code == 200
    assert "ann@example.com:700000001" in assert_no_secret(listing)
    page = admin_client.get(reverse("admin:zoho_tokens_tokenauditevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert_no_secret(page)


# -- revoke -----------------------------------------------------------------------------------


def test_revoke_asks_for_confirmation_first(admin_client, secret_row, fake_zoho):
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    other = ZohoTokenFactory(
        user_name="bob@example.com:700000002", tenant="acme", api_domain="https://www.zohoapis.eu"
    )
    response = run_action(admin_client, "revoke_selected", [secret_row, other])
    assert response.status_code == 200
    html = assert_no_secret(response)
    assert "Revoke at Zoho and delete?" in html
    assert "Zoho will be told" in html
    assert "cannot be undone" in html
    for text in ("ann@example.com:700000001", "bob@example.com:700000002", "acme", "EU"):
        assert text in html
    assert "(default)" in html  # ann's tenant
    assert 'name="post" value="yes"' in html
    assert 'value="revoke_selected"' in html
    assert "csrfmiddlewaretoken" in html
    for row in (secret_row, other):
        assert f'name="_selected_action" value="{row.pk}"' in html
    # Nothing has happened yet: no call to Zoho, both rows kept, no audit row.
    assert fake_zoho.counters["revoke"] == 0
    assert ZohoToken.objects.filter(pk__in=[secret_row.pk, other.pk]).count() == 2
    assert not TokenAuditEvent.objects.filter(action__in=["revoked", "revoke_failed"]).exists()


def test_revoke_confirmation_post_needs_csrf(admin_user, secret_row, fake_zoho):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    data = {
        "action": "revoke_selected",
        "_selected_action": [secret_row.pk],
        "index": "0",
        "post": "yes",
    }
    assert client.post(changelist_url(), data).status_code == 403
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
    assert fake_zoho.counters["revoke"] == 0


def test_revoke_success_deletes_the_row_and_audits_the_actor(
    admin_client, admin_user, secret_row, fake_zoho
):
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    response = run_action(admin_client, "revoke_selected", [secret_row], post="yes")
    message = only_message(response)
    assert message.level == messages.SUCCESS
    assert "Revoked 1 of 1" in message.message
    assert "revoked at Zoho and deleted" in message.message
    assert fake_zoho.counters["revoke"] == 1
    assert not fake_zoho.is_refresh_token_valid(PLAIN["refresh_token"])
    assert not ZohoToken.objects.filter(pk=secret_row.pk).exists()
    event = TokenAuditEvent.objects.get(action="revoked", token_id=secret_row.pk)
    assert event.actor == admin_user
    assert event.source == "admin"
    assert event.detail["remote"] is True
    assert_no_secret(response)


def test_revoke_of_a_token_zoho_no_longer_knows_deletes_it_too(admin_client, secret_row, fake_zoho):
    response = run_action(admin_client, "revoke_selected", [secret_row], post="yes")
    message = only_message(response)
    assert message.level == messages.SUCCESS
    assert "already invalid at Zoho; deleted" in message.message
    assert fake_zoho.counters["revoke"] == 1
    assert not ZohoToken.objects.filter(pk=secret_row.pk).exists()
    assert TokenAuditEvent.objects.get(action="revoked").detail["remote"] is False


def test_revoke_with_zoho_unreachable_keeps_the_row_and_says_so(
    admin_client, admin_user, secret_row, fake_zoho
):
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    fake_zoho.stop()
    response = run_action(admin_client, "revoke_selected", [secret_row], post="yes")
    message = only_message(response)
    assert message.level == messages.ERROR
    assert "Revoked 0 of 1" in message.message
    assert "kept: cannot reach Zoho Accounts" in message.message
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
    failed = TokenAuditEvent.objects.get(action="revoke_failed")
    assert (failed.actor, failed.source, failed.outcome) == (admin_user, "admin", "error")
    assert_no_secret(response)


def test_revoke_mixed_selection_reports_each_token(
    admin_client, zoho_settings_for, fake_zoho, settings
):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ENCRYPTION_KEYS": [key_a]}
    lost = ZohoTokenFactory(
        user_name="lost@example.com:1", accounts_server=fake_zoho.url
    )  # encrypted with a key now gone
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ENCRYPTION_KEYS": [key_b]}
    live = ZohoTokenFactory(user_name="live@example.com:1", accounts_server=fake_zoho.url)
    stale = ZohoTokenFactory(user_name="stale@example.com:1", accounts_server=fake_zoho.url)
    fake_zoho.add_refresh_token(live.refresh_token)

    response = run_action(admin_client, "revoke_selected", [live, stale, lost], post="yes")

    message = only_message(response)
    assert message.level == messages.WARNING
    assert "Revoked 2 of 3" in message.message
    text = message.message
    # One line per token (outcomes.line), failures first.
    assert f"{live.pk} (live@example.com:1): revoked: revoked at Zoho and deleted" in text
    assert f"{stale.pk} (stale@example.com:1): deleted: already invalid at Zoho; deleted" in text
    assert f"{lost.pk} (lost@example.com:1): kept: cannot decrypt refresh_token" in text
    assert text.index(f"{lost.pk} (lost") < text.index(f"{live.pk} (live")
    assert list(ZohoToken.objects.values_list("pk", flat=True)) == [lost.pk]
    assert fake_zoho.counters["revoke"] == 2


# -- purge ------------------------------------------------------------------------------------


def test_purge_after_confirmation_deletes_locally_with_an_audit_row_per_token(
    admin_client, admin_user, zoho_settings_for, fake_zoho
):
    rows = ZohoTokenFactory.create_batch(2)
    keep = ZohoTokenFactory()
    response = run_action(admin_client, "purge_selected", rows, post="yes")
    message = only_message(response)
    assert message.level == messages.SUCCESS
    assert "Purged 2 Zoho tokens" in message.message
    assert list(ZohoToken.objects.values_list("pk", flat=True)) == [keep.pk]
    events = TokenAuditEvent.objects.filter(action="purged")
    assert {(e.actor, e.source, e.detail["count"]) for e in events} == {(admin_user, "admin", 2)}
    assert sorted(e.token_id for e in events) == sorted(r.pk for r in rows)
    assert fake_zoho.counters["revoke"] == 0


# -- permissions ------------------------------------------------------------------------------


def test_view_only_staff_sees_the_masked_list_and_no_actions(client, secret_row, fake_zoho):
    client.force_login(staff_with("view_zohotoken"))
    response = client.get(changelist_url())
    assert response.status_code == 200
    html = assert_no_secret(response)
    assert "ann@example.com" in html
    assert 'name="action"' not in html
    assert "Connect with a grant token" not in html
    assert client.get(change_url(secret_row)).status_code == 200
    assert client.get(add_url()).status_code == 403


@pytest.mark.parametrize(
    ("perms", "offered", "refused"),
    [
        (["view_zohotoken"], [], ["revoke_selected", "purge_selected"]),
        (["view_zohotoken", "revoke_zohotoken"], ["revoke_selected"], ["purge_selected"]),
        (["view_zohotoken", "purge_zohotoken"], ["purge_selected"], ["revoke_selected"]),
    ],
)
def test_actions_need_their_permission_even_when_forged(
    client, secret_row, fake_zoho, perms, offered, refused
):
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    client.force_login(staff_with(*perms))
    html = client.get(changelist_url()).content.decode()
    for action in offered:
        assert f'value="{action}"' in html
    for action in refused:
        assert f'value="{action}"' not in html
        response = run_action(client, action, [secret_row], post="yes")
        assert response.status_code == 200
        assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
        assert fake_zoho.counters["revoke"] == 0
        assert not TokenAuditEvent.objects.filter(action__in=["revoked", "purged"]).exists()


def test_actions_are_post_only(admin_client, secret_row, fake_zoho):
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    query = f"?action=revoke_selected&_selected_action={secret_row.pk}&index=0&post=yes"
    assert admin_client.get(changelist_url() + query).status_code in (200, 302)
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
    assert fake_zoho.counters["revoke"] == 0


def test_actions_need_a_csrf_token(admin_user, secret_row, fake_zoho):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    fake_zoho.add_refresh_token(secret_row.refresh_token)
    response = client.post(
        changelist_url(),
        {"action": "revoke_selected", "_selected_action": [secret_row.pk], "index": "0"},
    )
    assert response.status_code == 403
    assert ZohoToken.objects.filter(pk=secret_row.pk).exists()
    assert fake_zoho.counters["revoke"] == 0


def test_audit_admin_is_read_only_for_everyone(admin_client, admin_user):
    event = TokenAuditEventFactory(user_name="ann@example.com:1", actor=admin_user)
    html = admin_client.get(reverse(AUDIT_CHANGELIST)).content.decode()
    assert 'name="action"' not in html
    assert admin_client.get(reverse("admin:zoho_tokens_tokenauditevent_add")).status_code == 403
    change = reverse("admin:zoho_tokens_tokenauditevent_change", args=[event.pk])
    assert admin_client.post(change, {"action": "forged"}).status_code == 403
    delete = reverse("admin:zoho_tokens_tokenauditevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "saved"


def test_audit_admin_search_filters_and_order(admin_client, admin_user):
    other = UserFactory()
    TokenAuditEventFactory(user_name="ann@example.com:1", action="revoked", actor=admin_user)
    TokenAuditEventFactory(user_name="bob@example.com:2", action="purged", actor=other)
    url = reverse(AUDIT_CHANGELIST)
    rows = lambda q: list(admin_client.get(url + q).context["cl"].result_list)  # noqa: E731
    assert [e.user_name for e in rows("")] == ["bob@example.com:2", "ann@example.com:1"]
    assert [e.user_name for e in rows("?q=ann")] == ["ann@example.com:1"]
    assert [e.user_name for e in rows("?action=purged")] == ["bob@example.com:2"]
    assert [e.user_name for e in rows(f"?actor={other.username}")] == ["bob@example.com:2"]
    assert [e.user_name for e in rows("?source=sdk")] == ["bob@example.com:2", "ann@example.com:1"]


def test_audit_keeps_who_acted_after_the_user_is_deleted(client, admin_client):
    ops = UserFactory(username="ops", is_staff=True, is_superuser=True)
    client.force_login(ops)
    run_action(client, "purge_selected", [ZohoTokenFactory()], post="yes")
    event = TokenAuditEvent.objects.get(action="purged")
    assert (event.actor, event.actor_name) == (ops, "ops")
    ops_pk = ops.pk

    ops.delete()  # no foreign key constraint or cascade: the audit row stays as written

    event = TokenAuditEvent.objects.get(action="purged")
    assert (event.actor_id, event.actor_name) == (ops_pk, "ops")
    listing = admin_client.get(reverse(AUDIT_CHANGELIST))
    assert "ops (deleted user)" in listing.content.decode()
    page = admin_client.get(reverse("admin:zoho_tokens_tokenauditevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "ops (deleted user)" in page.content.decode()


# -- list: filters and query count ------------------------------------------------------------


def test_status_filter_agrees_with_row_status(admin_client, zoho_settings_for):
    now = int(time.time() * 1000)
    made = {
        "active": ZohoTokenFactory(expiry_time=now + 3600_000),
        "expiring": ZohoTokenFactory(expiry_time=now + 120_000),
        "expired": ZohoTokenFactory(expiry_time=now - 60_000),
        "invalid": ZohoTokenFactory(invalid_reason="invalid_code"),
    }
    no_refresh = ZohoTokenFactory(expiry_time=now - 60_000, refresh_token="")
    for status, row in made.items():
        assert row.status() == status
    assert no_refresh.status() == "invalid"
    for status in made:
        response = admin_client.get(changelist_url() + f"?status={status}")
        shown = {r.pk for r in response.context["cl"].result_list}
        expected = {made[status].pk} | ({no_refresh.pk} if status == "invalid" else set())
        assert shown == expected, status
    # Django's timesince/timeuntil join number and unit with a non-breaking space.
    html = admin_client.get(changelist_url()).content.decode().replace("\xa0", " ")
    assert "expired 1 minute ago" in html
    assert "expires in 59 minutes" in html


def test_data_center_and_tenant_filters(admin_client, zoho_settings_for):
    us = ZohoTokenFactory(api_domain="https://www.zohoapis.com", tenant="acme")
    eu = ZohoTokenFactory(api_domain="https://www.zohoapis.eu")
    au = ZohoTokenFactory(api_domain="https://sandbox.zohoapis.com.au")
    odd = ZohoTokenFactory(api_domain="http://127.0.0.1:8765")

    def shown(query: str) -> set[str]:
        response = admin_client.get(changelist_url() + query)
        return {r.pk for r in response.context["cl"].result_list}

    assert shown("?data_center=us") == {us.pk}
    assert shown("?data_center=eu") == {eu.pk}
    assert shown("?data_center=au") == {au.pk}
    assert shown("?data_center=other") == {odd.pk}
    fake = ZohoTokenFactory(api_domain=zoho_settings_for["API_DOMAIN"])  # the fake Zoho's
    assert shown("?data_center=fake") == {fake.pk}
    assert shown("?data_center=other") == {odd.pk}  # the fake is not "unknown"
    choices = admin_client.get(changelist_url()).content.decode()
    assert "fake Zoho (demo)" in choices and "other / unknown" in choices
    assert shown("?tenant=acme") == {us.pk}
    assert shown("?q=acme") == {us.pk}


def test_changelist_query_count_is_the_same_for_3_and_300_tokens(admin_client, zoho_settings_for):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(changelist_url() + "?status=active&data_center=us")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    ZohoTokenFactory.create_batch(3, tenant="t1")
    admin_client.get(changelist_url())  # warm the session and content-type caches
    few = count()
    for n in range(2, 101):
        ZohoTokenFactory.create_batch(3, tenant=f"t{n}")
    assert ZohoToken.objects.count() == 300
    assert count() == few


def test_audit_changelist_query_count_does_not_grow(admin_client, admin_user):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(reverse(AUDIT_CHANGELIST))
        return len(ctx.captured_queries)

    TokenAuditEventFactory.create_batch(3, actor=admin_user)
    admin_client.get(reverse(AUDIT_CHANGELIST))
    few = count()
    TokenAuditEventFactory.create_batch(60, actor=UserFactory())
    assert count() == few


# -- undecryptable rows -----------------------------------------------------------------------


def test_row_with_a_missing_key_renders_everywhere(admin_client, zoho_settings_for, settings):
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    row = ZohoTokenFactory(user_name="lost@example.com:1", **PLAIN)
    settings.ZOHO_TOKENS = {
        **zoho_settings_for,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    for url in (
        changelist_url(),
        change_url(row),
        reverse("admin:zoho_tokens_zohotoken_history", args=[row.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response)
    assert "(unreadable: key missing)" in admin_client.get(change_url(row)).content.decode()
    confirm = run_action(admin_client, "purge_selected", [row])
    assert "lost@example.com:1" in assert_no_secret(confirm)


# -- connect with a grant token ---------------------------------------------------------------


def test_connect_form_prefills_settings_and_never_renders_the_secret(
    admin_client, zoho_settings_for
):
    response = admin_client.get(add_url())
    assert response.status_code == 200
    html = assert_no_secret(response)
    assert 'value="1000.TESTCLIENT"' in html
    assert 'type="password" name="client_secret"' in html
    assert 'type="password" name="grant_token"' in html


def test_connect_exchanges_the_grant_and_shows_the_new_connection(
    admin_client, admin_user, zoho_settings_for, fake_zoho
):
    code = fake_zoho.add_grant(email="ann@example.com", zgid="700000042")
    response = admin_client.post(
        add_url(),
        {"grant_token": code, "client_id": "", "client_secret": "", "data_center": "eu"},
    )
    row = ZohoToken.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(row)
    assert row.user_name == "ann@example.com:700000042"
    assert fake_zoho.is_refresh_token_valid(row.refresh_token)
    event = TokenAuditEvent.objects.get(action="grant_exchanged")
    assert (event.actor, event.source) == (admin_user, "admin")
    page = admin_client.get(response["Location"])
    assert "Connected ann@example.com:700000042" in page.content.decode()
    assert_no_secret(page, code, row.refresh_token, row.access_token)


def test_connect_with_a_used_grant_says_so_in_plain_words(
    admin_client, zoho_settings_for, fake_zoho
):
    typed_secret = "typed-client-secret-987654321"
    response = admin_client.post(
        add_url(),
        {
            "grant_token": "1000.usedgrant0123456789abcdef.0123456789abcdef",
            "client_id": "1000.OTHER",
            "client_secret": typed_secret,
            "data_center": "us",
            "tenant": "acme",
        },
    )
    assert response.status_code == 200
    html = assert_no_secret(response, "1000.usedgrant0123456789abcdef", typed_secret)
    assert "already used or has expired" in html
    assert "generate a new one" in html
    assert not ZohoToken.objects.exists()


def test_connect_with_zoho_unreachable_says_so(admin_client, zoho_settings_for, fake_zoho):
    code = fake_zoho.add_grant()
    fake_zoho.stop()
    response = admin_client.post(add_url(), {"grant_token": code, "data_center": "us"})
    assert response.status_code == 200
    assert "cannot reach Zoho Accounts" in assert_no_secret(response, code)


def test_connect_needs_the_add_permission(client, zoho_settings_for, fake_zoho):
    code = fake_zoho.add_grant()
    client.force_login(staff_with("view_zohotoken", "revoke_zohotoken"))
    assert client.post(add_url(), {"grant_token": code, "data_center": "us"}).status_code == 403
    assert fake_zoho.counters["token"] == 0
    assert not ZohoToken.objects.exists()


def test_list_columns_merge_tenant_status_reason_and_expiry(admin_client, zoho_settings_for):
    now = int(time.time() * 1000)
    ZohoTokenFactory(
        user_name="ann@example.com:700000001",
        tenant="acme",
        expiry_time=now + 30 * 60_000,
    )
    ZohoTokenFactory(
        user_name="bob@example.com:700000002",
        expiry_time=now - 60_000,
        refresh_backoff_until=now + 60_000,
        refresh_error="timeout",
    )
    html = admin_client.get(changelist_url()).content.decode()
    assert "org 700000001 · tenant acme" in html
    assert "org 700000002 · tenant (default)" in html
    assert "backing off (refresh failed)" in html and "timeout" in html
    assert "access token expires in 29 minutes" in html.replace("\xa0", " ")
