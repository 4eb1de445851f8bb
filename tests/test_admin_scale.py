"""The admin at scale: every changelist view costs a bounded number of queries, no filter scans
the table for its choices, nothing counts a big table whole, and (PostgreSQL) the indexed
views read an index, not the table. Timings are measured by ``bench/bench_scale.py``."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory, ZohoTokenFactory
from zoho_tokens.admin.paging import LargeTablePaginator
from zoho_tokens.models import AuditAction, TokenAuditEvent, ZohoToken

pytestmark = pytest.mark.django_db

AUDIT = "admin:zoho_tokens_tokenauditevent_changelist"
TOKENS = "admin:zoho_tokens_zohotoken_changelist"

AUDIT_VIEWS = [
    "",
    "?action=refreshed",
    "?source=sdk",
    "?tenant=t1",
    "?actor=ops",
    "?q=user1",
    "?q=t2",
    "?token_id={token}",
    "?q={token}",
    "?action=refreshed&tenant=t1",
    "?o=1",
    "?p={last}",
    "?action=refreshed&p={last}",
]
TOKEN_VIEWS = [
    "",
    "?status=active",
    "?status=expired",
    "?tenant=t1",
    "?data_center=us",
    "?data_center=eu",
    "?data_center=other",
    "?data_center=fake",
    "?q=user1",
    "?q=t2",
    "?q={token}",
    "?status=active&tenant=t1&data_center=us",
    "?p={last}",
]


@pytest.fixture
def many(admin_client, zoho_settings_for, monkeypatch):
    """40 tokens in 4 tenants, 400 audit events; paging becomes estimated past 50 rows."""
    monkeypatch.setattr(LargeTablePaginator, "exact_up_to", 50)
    ops = UserFactory(username="ops")
    now = int(time.time() * 1000)
    tokens = [
        ZohoTokenFactory(
            tenant=f"t{n % 4}",
            expiry_time=now + (3600_000 if n % 3 else -60_000),
            api_domain="https://www.zohoapis.eu" if n % 5 == 0 else "https://www.zohoapis.com",
        )
        for n in range(40)
    ]
    TokenAuditEvent.objects.bulk_create(
        TokenAuditEvent(
            action=AuditAction.values[n % len(AuditAction.values)],
            token_id=tokens[n % 40].pk,
            user_name=tokens[n % 40].user_name or "",
            tenant=tokens[n % 40].tenant,
            actor=ops if n % 7 == 0 else None,
            source="admin" if n % 7 == 0 else "sdk",
        )
        for n in range(400)
    )
    admin_client.get(reverse(AUDIT))  # warm the session and content-type caches
    return tokens


def assert_no_full_count(queries: list[str]) -> None:
    """PostgreSQL: only a COUNT bounded by the page window (past it, the planner estimates).
    Elsewhere an exact count follows when the window is full: at most one unbounded."""
    unbounded = [q for q in queries if "COUNT(" in q.upper() and "LIMIT" not in q.upper()]
    assert len(unbounded) <= (0 if connection.vendor == "postgresql" else 1), unbounded


def _get(admin_client, name: str, query: str, token: ZohoToken):
    url = reverse(name)
    if "{last}" in query:
        first = admin_client.get(url + query.replace("p={last}", "p=1").replace("?&", "?"))
        query = query.replace("{last}", str(first.context["cl"].paginator.num_pages))
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(url + query.replace("{token}", token.pk))
    assert response.status_code == 200, (query, response.status_code)
    return response, [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("query", AUDIT_VIEWS)
def test_every_audit_view_is_a_few_queries_without_distinct(admin_client, many, query):
    _response, queries = _get(admin_client, AUDIT, query, many[1])
    assert len(queries) <= 8, queries
    assert not [q for q in queries if "DISTINCT" in q.upper()], queries
    assert_no_full_count(queries)


@pytest.mark.parametrize("query", TOKEN_VIEWS)
def test_every_token_view_is_a_few_queries_without_distinct(admin_client, many, query):
    _response, queries = _get(admin_client, TOKENS, query, many[1])
    assert len(queries) <= 8, queries
    assert not [q for q in queries if "DISTINCT" in q.upper()], queries
    assert_no_full_count(queries)
    # A count never sorts (a sliced count kept the ordering: an index walk of the table).
    assert not [q for q in queries if "COUNT(" in q.upper() and "ORDER BY" in q.upper()], queries


def test_filters_search_and_paging_still_select_the_right_rows(admin_client, many):
    def shown(name: str, query: str) -> list:
        return list(admin_client.get(reverse(name) + query).context["cl"].result_list)

    assert {e.action for e in shown(AUDIT, "?action=refreshed")} == {"refreshed"}
    assert {e.tenant for e in shown(AUDIT, "?tenant=t2")} == {"t2"}
    assert {e.actor.username for e in shown(AUDIT, "?actor=ops")} == {"ops"}
    assert shown(AUDIT, "?actor=nobody") == []
    assert {e.token_id for e in shown(AUDIT, f"?q={many[5].pk}")} == {many[5].pk}
    assert {e.token_id for e in shown(AUDIT, f"?token_id={many[5].pk}")} == {many[5].pk}
    # A user name prefix, in any case; not a substring.
    prefix = many[7].user_name[:9].upper()
    assert {e.user_name[:9].upper() for e in shown(AUDIT, f"?q={prefix}")} == {prefix}
    assert shown(AUDIT, "?q=example.com") == []
    assert {t.pk for t in shown(TOKENS, f"?q={prefix.lower()}")} == {many[7].pk}
    assert {t.pk for t in shown(TOKENS, f"?q={prefix}")} == {many[7].pk}
    assert {t.tenant for t in shown(TOKENS, "?tenant=t3")} == {"t3"}
    assert {t.pk for t in shown(TOKENS, f"?q={many[9].pk}")} == {many[9].pk}
    eu = {t.pk for t in many if "zohoapis.eu" in t.api_domain}
    assert {t.pk for t in shown(TOKENS, "?data_center=eu")} == eu


def test_tenant_and_actor_are_boxes_and_choices_come_from_the_vocabulary(admin_client, many):
    html = admin_client.get(reverse(AUDIT) + "?action=saved").content.decode()
    assert 'type="search" name="tenant"' in html
    assert 'type="search" name="actor"' in html
    assert '<input type="hidden" name="action" value="saved">' in html  # kept when typing
    for _value, label in AuditAction.choices:  # every action, even one never recorded
        assert str(label) in html
    tokens = admin_client.get(reverse(TOKENS)).content.decode()
    assert 'type="search" name="tenant"' in tokens
    assert "?tenant=t1" not in tokens  # no list of every tenant


def test_big_results_are_estimated_and_paged_to_the_exact_window(admin_client, many):
    """Past ``exact_up_to`` rows PostgreSQL's estimate is shown and pages stop at the exact
    window; other backends count exactly (they have no cheap estimate here)."""
    cl = admin_client.get(reverse(AUDIT)).context["cl"]
    paginator = cl.paginator
    assert cl.full_result_count is None  # show_full_result_count = False: no second count
    if connection.vendor == "postgresql":
        assert paginator.estimated
        assert paginator.num_pages == 1  # 50 rows / 100 per page
        assert cl.result_count > 50
    else:
        assert not paginator.estimated
        assert cl.result_count == 400
        assert paginator.num_pages == 4
    small = admin_client.get(reverse(AUDIT) + "?tenant=t1&action=saved").context["cl"]
    expected = TokenAuditEvent.objects.filter(tenant="t1", action="saved").count()
    assert (small.result_count, small.paginator.estimated) == (expected, False)


# -- PostgreSQL: the plans read indexes ---------------------------------------------------------

SEED_SQL = """
INSERT INTO zoho_tokens_tokenauditevent
    (created_at, action, token_id, user_name, tenant, actor_id, actor_name, source, outcome, detail)
SELECT now() - make_interval(secs => n), (ARRAY[{actions}])[1 + n % {n_actions}],
       'tok' || (n % 5000), 'user' || (n % 5000) || '@example.com:' || n % 5000,
       't' || (n % 1000), NULL, '', (ARRAY['sdk','sdk','sdk','task','admin'])[1 + n % 5], 'ok', '{{}}'
FROM generate_series(1, 200000) AS n;
INSERT INTO zoho_tokens_zohotoken
    (id, tenant, user_name, client_id, client_secret, refresh_token, access_token, grant_token,
     refresh_token_checksum, access_token_checksum, grant_token_checksum, expiry_time,
     redirect_url, api_domain, key_id, accounts_server, invalid_reason, refresh_failures,
     refresh_error, refresh_lease_owner, scope, created_at, updated_at)
SELECT 'tok' || n, 't' || (n % 1000), 'user' || n || '@example.com:' || n, 'c', '', '', '', '',
       md5(n::text), '', '', (extract(epoch from now()) * 1000)::bigint + n * 1000, '',
       'https://www.zohoapis.com', '', '', '', 0, '', '', '', now(), now()
FROM generate_series(1, 50000) AS n;
ANALYZE zoho_tokens_tokenauditevent;
ANALYZE zoho_tokens_zohotoken;
"""

INDEXED_AUDIT_VIEWS = [
    "",
    "?action=revoked",
    "?tenant=t7",
    "?source=admin",
    "?token_id=tok42",
    "?q=tok42",
    "?q=USER42@",
    "?p=2",
]
INDEXED_TOKEN_VIEWS = ["", "?tenant=t7", "?q=tok42", "?q=user42@", "?q=t7", "?p=2"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_indexed_views_read_indexes_not_the_table_on_postgresql(admin_client):
    actions = ",".join(f"'{a}'" for a in AuditAction.values)
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL.format(actions=actions, n_actions=len(AuditAction.values)))
    plans = {}
    for name, views in ((AUDIT, INDEXED_AUDIT_VIEWS), (TOKENS, INDEXED_TOKEN_VIEWS)):
        for query in views:
            cl = admin_client.get(reverse(name) + query).context["cl"]
            assert cl.result_count > 0, query
            plans[name + query] = cl.result_list.explain()
    scans = {view: plan for view, plan in plans.items() if "Seq Scan on zoho_tokens_" in plan}
    assert not scans, scans
