"""One status rule: the SQL annotation (``with_status``) and ``ZohoToken.status()`` agree."""

from __future__ import annotations

import pytest

from tests.factories import ZohoTokenFactory
from zoho_tokens.models import TokenStatus, ZohoToken, now_ms

pytestmark = pytest.mark.django_db

MINUTE = 60_000


@pytest.fixture
def one_of_each():
    now = now_ms()
    return {
        TokenStatus.ACTIVE: ZohoTokenFactory(expiry_time=now + 50 * MINUTE),
        TokenStatus.EXPIRING: ZohoTokenFactory(expiry_time=now + 2 * MINUTE),
        TokenStatus.EXPIRED: ZohoTokenFactory(expiry_time=now - MINUTE),
        TokenStatus.BACKING_OFF: ZohoTokenFactory(
            expiry_time=now + 2 * MINUTE, refresh_backoff_until=now + MINUTE
        ),
        TokenStatus.INVALID: ZohoTokenFactory(invalid_reason="invalid_code"),
        # Expired with nothing to refresh with is invalid too.
        "no_refresh": ZohoTokenFactory(expiry_time=now - MINUTE, refresh_token=""),
        # No refresh token and no user: junk (a half-finished import), not a Zoho refusal.
        TokenStatus.INCOMPLETE: ZohoTokenFactory(
            user_name=None, expiry_time=now - MINUTE, refresh_token="", access_token=""
        ),
        "incomplete_blank_user": ZohoTokenFactory(
            user_name="", expiry_time=None, refresh_token="", access_token=""
        ),
        # Ownerless but refreshable: the refresh resolves the user, so not incomplete.
        "ownerless_refreshable": ZohoTokenFactory(user_name=None, expiry_time=now + 50 * MINUTE),
        # A backoff that has run out no longer counts.
        "backoff_over": ZohoTokenFactory(
            expiry_time=now + 50 * MINUTE, refresh_backoff_until=now - MINUTE
        ),
    }


def test_sql_and_python_agree_on_every_status(one_of_each):
    annotated = {row.pk: row.token_status for row in ZohoToken.objects.with_status()}
    for expected, row in one_of_each.items():
        fresh = ZohoToken.objects.get(pk=row.pk)  # no annotation: the Python rule
        assert fresh.status() == annotated[row.pk], expected
    assert annotated[one_of_each[TokenStatus.ACTIVE].pk] == TokenStatus.ACTIVE
    assert annotated[one_of_each[TokenStatus.EXPIRING].pk] == TokenStatus.EXPIRING
    assert annotated[one_of_each[TokenStatus.EXPIRED].pk] == TokenStatus.EXPIRED
    assert annotated[one_of_each[TokenStatus.BACKING_OFF].pk] == TokenStatus.BACKING_OFF
    assert annotated[one_of_each[TokenStatus.INVALID].pk] == TokenStatus.INVALID
    assert annotated[one_of_each["no_refresh"].pk] == TokenStatus.INVALID
    assert annotated[one_of_each["backoff_over"].pk] == TokenStatus.ACTIVE
    assert annotated[one_of_each[TokenStatus.INCOMPLETE].pk] == TokenStatus.INCOMPLETE
    assert annotated[one_of_each["incomplete_blank_user"].pk] == TokenStatus.INCOMPLETE
    assert annotated[one_of_each["ownerless_refreshable"].pk] == TokenStatus.ACTIVE


def test_with_status_in_filters_on_the_rule(one_of_each):
    invalid = set(
        ZohoToken.objects.with_status_in(TokenStatus.INVALID).values_list("pk", flat=True)
    )
    assert invalid == {one_of_each[TokenStatus.INVALID].pk, one_of_each["no_refresh"].pk}
    incomplete = set(
        ZohoToken.objects.with_status_in(TokenStatus.INCOMPLETE).values_list("pk", flat=True)
    )
    assert incomplete == {
        one_of_each[TokenStatus.INCOMPLETE].pk,
        one_of_each["incomplete_blank_user"].pk,
    }
    assert TokenStatus.INCOMPLETE.label == "incomplete (no refresh token and no user)"


def test_admin_filter_list_and_purge_use_the_same_rule(one_of_each, admin_client, capsys):
    """Every status: the admin filter, ``zoho_tokens list --json`` and ``purge --status``
    select exactly the rows ``with_status_in`` selects."""
    import json

    from django.core.management import call_command
    from django.urls import reverse

    by_rule = {
        status: set(ZohoToken.objects.with_status_in(status).values_list("pk", flat=True))
        for status in TokenStatus.values
    }
    call_command("zoho_tokens", "list", "--json")
    listed = json.loads(capsys.readouterr().out)
    for status in TokenStatus.values:
        assert {r["id"] for r in listed if r["status"] == status} == by_rule[status], status
        page = admin_client.get(
            reverse("admin:zoho_tokens_zohotoken_changelist") + f"?status={status}"
        )
        assert {row.pk for row in page.context["cl"].result_list} == by_rule[status], status
    for status in TokenStatus.values:
        call_command("zoho_tokens", "purge", "--status", status, "--dry-run")
        out = capsys.readouterr().out
        assert {line.split()[2] for line in out.splitlines()[:-1]} == by_rule[status], status
    call_command("zoho_tokens", "purge", "--status", "incomplete", "--yes")
    assert not ZohoToken.objects.with_status_in(TokenStatus.INCOMPLETE).exists()
    assert ZohoToken.objects.filter(pk=one_of_each[TokenStatus.INVALID].pk).exists()


def test_expiring_within_and_not_updated_since(one_of_each):
    soon = set(ZohoToken.objects.expiring_within(5 * 60).values_list("pk", flat=True))
    assert one_of_each[TokenStatus.EXPIRING].pk in soon
    assert one_of_each[TokenStatus.EXPIRED].pk in soon
    assert one_of_each[TokenStatus.ACTIVE].pk not in soon
    assert not ZohoToken.objects.not_updated_since(1).exists()
    ZohoToken.objects.filter(pk=one_of_each[TokenStatus.ACTIVE].pk).update(
        updated_at="2020-01-01T00:00:00Z"
    )
    stale = list(ZohoToken.objects.not_updated_since(1).values_list("pk", flat=True))
    assert stale == [one_of_each[TokenStatus.ACTIVE].pk]


def test_unreadable_when_no_key_in_force_encrypted_the_row(settings):
    from cryptography.fernet import Fernet

    from zoho_tokens import crypto

    gone, kept = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [gone]}
    lost = ZohoTokenFactory(expiry_time=now_ms() + 50 * MINUTE)
    lost_and_invalid = ZohoTokenFactory(invalid_reason="invalid_code")
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [kept]}
    readable = ZohoTokenFactory(expiry_time=now_ms() + 50 * MINUTE)
    empty = ZohoTokenFactory(client_secret="", refresh_token="", access_token="", grant_token="")

    assert lost.key_id == crypto.fingerprint(gone)
    annotated = {row.pk: row.token_status for row in ZohoToken.objects.with_status()}
    assert annotated[lost.pk] == TokenStatus.UNREADABLE
    assert annotated[lost_and_invalid.pk] == TokenStatus.INVALID  # invalid comes first
    assert annotated[readable.pk] == TokenStatus.ACTIVE
    assert annotated[empty.pk] != TokenStatus.UNREADABLE  # nothing encrypted, nothing to read
    for row in (lost, lost_and_invalid, readable, empty):
        assert ZohoToken.objects.get(pk=row.pk).status() == annotated[row.pk]
    assert list(
        ZohoToken.objects.with_status_in(TokenStatus.UNREADABLE).values_list("pk", flat=True)
    ) == [lost.pk]
    assert TokenStatus.UNREADABLE.label == "unreadable (no key decrypts it)"

    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [kept, gone]}  # the old key is back
    assert ZohoToken.objects.with_status().get(pk=lost.pk).token_status == TokenStatus.ACTIVE
