"""Finding 6 of issue 21: the audit trail needs ``zoho_tokens.view_tokenauditevent``.

A user with only ``view_zohotoken`` read every audit event of a token on its page and in
History (History of deleted ids too). The trail says who connected, revoked or purged which
Zoho user and when: it is the audit model's to show, so its view permission guards it on
every page (``ZohoTokenAdmin.may_read_audit`` says why).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import TokenAuditEventFactory, UserFactory, ZohoTokenFactory
from tests.helpers import change_url

pytestmark = pytest.mark.django_db

MARK = "zt-audit-module"


def staff(*codenames: str):
    user = UserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="zoho_tokens", codename__in=codenames)
    )
    return user


def history_url(token_id: str) -> str:
    return reverse("admin:zoho_tokens_zohotoken_history", args=[token_id])


@pytest.fixture
def row(zoho_settings_for):
    token = ZohoTokenFactory(user_name="ann@example.com:700000042")
    TokenAuditEventFactory(token_id=token.pk, action="revoke_failed", user_name=token.user_name)
    return token


def test_view_zohotoken_alone_shows_the_token_but_not_its_audit_trail(client, row):
    client.force_login(staff("view_zohotoken"))
    page = client.get(change_url(row))
    assert page.status_code == 200
    html = page.content.decode()
    assert row.user_name in html and MARK not in html
    assert client.get(history_url(row.pk)).status_code == 403
    assert client.get(history_url("1745000000000000001")).status_code == 403  # deleted id


def test_view_tokenauditevent_shows_the_trail_on_the_page_and_in_history(client, row):
    client.force_login(staff("view_zohotoken", "view_tokenauditevent"))
    html = client.get(change_url(row)).content.decode()
    assert MARK in html
    history = client.get(history_url(row.pk))
    assert history.status_code == 200 and "revoke" in history.content.decode().lower()
