"""Health of the stored connections: ``zoho_tokens.health.check``, ``manage.py zoho_tokens
health`` (exit 0 ok, 1 degraded, 2 needs a person) and the django-health-check backend."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ZohoTokenFactory
from tests.helpers import assert_no_secret, now_ms, run_command, secrets_of
from zoho_tokens import health
from zoho_tokens.models import ZohoToken

MINUTE = 60_000


def make(status: str, **fields) -> ZohoToken:
    """One stored connection in ``status`` (the status rule's own vocabulary)."""
    now = now_ms()
    if status == "active":
        return ZohoTokenFactory(expiry_time=now + 50 * MINUTE, **fields)
    if status == "expiring":
        return ZohoTokenFactory(expiry_time=now + 2 * MINUTE, **fields)
    if status == "expiring_no_refresh":
        return ZohoTokenFactory(expiry_time=now + 2 * MINUTE, refresh_token="", **fields)
    if status == "expired":
        return ZohoTokenFactory(expiry_time=now - MINUTE, **fields)
    if status == "backing_off":
        return ZohoTokenFactory(
            expiry_time=now + 2 * MINUTE,
            refresh_backoff_until=now + MINUTE,
            refresh_failures=3,
            refresh_error="timeout",
            **fields,
        )
    if status == "invalid":
        return ZohoTokenFactory(invalid_reason="invalid_code", **fields)
    if status == "unreadable":
        row = ZohoTokenFactory(expiry_time=now + 50 * MINUTE, **fields)
        ZohoToken.objects.filter(pk=row.pk).update(key_id="0badc0ffee0badc0")
        return row
    if status == "incomplete":
        fields["user_name"] = None
        return ZohoTokenFactory(
            expiry_time=now - MINUTE, refresh_token="", access_token="", **fields
        )
    raise AssertionError(status)


EXPECTED = [
    ("active", 0, "OK"),
    ("expiring", 0, "OK"),
    ("expired", 0, "OK"),  # refreshable: the next call refreshes it
    ("incomplete", 0, "OK"),
    ("expiring_no_refresh", 1, "DEGRADED"),
    ("backing_off", 1, "DEGRADED"),
    ("invalid", 2, "CRITICAL"),
    ("unreadable", 2, "CRITICAL"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "code", "word"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_health_command_exit_code_for_each_status(status, code, word):
    make("active")
    row = make(status, user_name=f"{status}@example.com:1" if status != "incomplete" else None)
    exit_code, out, err = run_command("zoho_tokens", "health")
    assert (exit_code, err) == (code, "")
    assert out.startswith(f"{word}: 2 Zoho connection(s)")
    if code == 2:
        assert f"token {row.pk}" in out
        assert ("Reconnect" in out) if status == "invalid" else ("ENCRYPTION_KEYS" in out)
    assert_no_secret(out, *secrets_of(row), where="health output")


@pytest.mark.django_db
def test_health_is_ok_without_connections_and_reports_the_worst_level():
    assert run_command("zoho_tokens", "health")[:2] == (0, "OK: 0 Zoho connection(s)\n")
    make("backing_off")
    assert run_command("zoho_tokens", "health")[0] == 1
    make("invalid")
    assert run_command("zoho_tokens", "health")[0] == 2


@pytest.mark.django_db
def test_health_report_per_tenant_in_two_queries_with_reasons_and_oldest_failure():
    dead = make("invalid", tenant="acme", user_name="ann@acme.example:1")
    make("backing_off", tenant="acme", user_name="bob@acme.example:1")
    make("active", tenant="acme")
    make("invalid", tenant="other")
    with CaptureQueriesContext(connection) as queries:
        report = health.check("acme")
    assert len(queries) <= 2
    assert report.counts == {"invalid": 1, "backing_off": 1, "active": 1}
    assert report.level == "critical" and report.exit_code == 2
    assert [a.user_name for a in report.needs_person] == ["ann@acme.example:1"]
    first = report.attention[0]
    assert first.token_id == dead.pk and "invalid_code" in first.reason
    assert "3 refresh(es) failed" in report.attention[1].reason
    assert report.oldest_failure is not None
    assert health.check("").counts == {}
    assert health.check().counts["invalid"] == 2

    code, out, _ = run_command("zoho_tokens", "health", "--tenant", "acme", "--json")
    data = json.loads(out)
    assert code == 2 and data["level"] == "critical" and data["tenant"] == "acme"
    assert data["attention"][0]["token_id"] == dead.pk


# -- django-health-check ----------------------------------------------------------------------


@pytest.fixture
def health_project(settings):
    pytest.importorskip("health_check", reason="pip install zoho-tokens[health]")
    settings.ROOT_URLCONF = "tests.health_urls"


@pytest.mark.django_db(transaction=True)  # the check runs in django-health-check's thread
def test_django_health_check_backend(health_project, client):
    make("active")
    response = client.get("/ht/?format=json")
    assert response.status_code == 200, response.content
    make("backing_off")
    assert client.get("/ht/?format=json").status_code == 200  # degraded: still in service
    assert client.get("/ht/strict/?format=json").status_code == 500
    row = make("invalid", user_name="dead@example.com:1")
    response = client.get("/ht/?format=json")
    assert response.status_code == 500
    body = response.content.decode()
    assert "CRITICAL" in body and "dead@example.com:1" in body and "invalid_code" in body
    assert_no_secret(body, *secrets_of(row), where="health check page")


# -- scopes the project asks for (SCOPES) -----------------------------------------------------

BOOKS = "ZohoBooks.fullaccess.all"
CRM = "ZohoCRM.modules.ALL"


@pytest.mark.django_db
def test_a_connection_lacking_a_required_scope_is_reported_with_the_reconnect_hint(settings):
    """A grant made before the project asked for Books: degraded (calls needing Books fail
    until someone reconnects; nothing that worked stopped), named with what it lacks.
    Scopes compare as whole items, case-insensitively; unknown scopes ("") are not counted."""
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SCOPES": f"{CRM},{BOOKS}"}
    make("active", scope=f"{CRM.lower()},{BOOKS}")  # has both
    make("active", scope="")  # stored before scopes were recorded: not counted
    make("active", scope=f"{CRM},{BOOKS}.extra")  # a longer scope is not this one
    lacking = make("active", user_name="crm-only@example.com:1", scope=f"ZohoCRM.users.READ,{CRM}")
    with CaptureQueriesContext(connection) as queries:
        report = health.check()
    assert len(queries) <= 2
    assert report.level == "degraded" and report.exit_code == 1
    assert report.lacking_scopes == 2
    reasons = {a.user_name: a.reason for a in report.attention}
    assert f"Reconnect needed: its grant lacks {BOOKS}" in reasons["crm-only@example.com:1"]
    assert report.summary().endswith("; 2 lacking scopes in SCOPES (reconnect needed)")

    code, out, err = run_command("zoho_tokens", "health")
    assert (code, err) == (1, "")
    assert f"crm-only@example.com:1, token {lacking.pk}: Reconnect needed" in out
    assert BOOKS in out
    assert_no_secret(out, *secrets_of(lacking), where="health output")
    code, out, _ = run_command("zoho_tokens", "health", "--json")
    assert code == 1 and json.loads(out)["lacking_scopes"] == 2

    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SCOPES": CRM}
    assert health.check().level == "ok"  # every stored grant carries CRM


@pytest.mark.django_db
def test_a_lacking_scope_does_not_hide_a_connection_that_needs_a_person(settings):
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SCOPES": f"{CRM},{BOOKS}"}
    make("active", scope=CRM)
    dead = make("invalid", scope=CRM)
    report = health.check()
    assert report.level == "critical" and report.lacking_scopes == 2
    assert [a.token_id for a in report.needs_person] == [dead.pk]
    assert "invalid_code" in report.needs_person[0].reason  # the worse reason is shown


@pytest.mark.django_db(transaction=True)
def test_django_health_check_reports_lacking_scopes_only_when_strict(
    health_project, client, settings
):
    """Adding a scope to SCOPES makes every connection lack it: a load balancer must not take
    the web servers out of service for that (degraded), a strict check names it."""
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SCOPES": f"{CRM},{BOOKS}"}
    make("active", user_name="crm-only@example.com:1", scope=CRM)
    assert client.get("/ht/?format=json").status_code == 200
    response = client.get("/ht/strict/?format=json")
    assert response.status_code == 500
    body = response.content.decode()
    assert "crm-only@example.com:1" in body and BOOKS in body
