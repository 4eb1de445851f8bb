"""Prometheus metrics (extra ``[metrics]``): outcomes, latencies and a bounded status scrape.

The counters live in the process's default registry; each test reads deltas. A herd of
threads (each with its own database connection) calls ``find_token`` across three expiries:
the scrape shows exactly one ``ok`` refresh per expiry, then the failure counters after
Zoho fails; a scrape costs at most 2 queries (it makes 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tests.helpers import ROOT, now_ms
from zoho_tokens import metrics
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.zohosdk import OAuthToken, UserSignature

prometheus_client = pytest.importorskip(
    "prometheus_client", reason="pip install zoho-tokens[metrics]"
)
REGISTRY = prometheus_client.REGISTRY

USER = "metrics@example.com:700000026"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def herd(threads: int = 6, calls: int = 3) -> list[BaseException]:
    """``threads`` threads start together and each call ``find_token`` ``calls`` times."""
    barrier, errors = threading.Barrier(threads), []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(calls):
                found = DjangoTokenStore().find_token(
                    OAuthToken(user_signature=UserSignature(USER))
                )
                assert found is not None and int(found.get_expires_in()) > now_ms()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_a_scrape_after_a_herd_shows_one_refresh_per_expiry_and_the_failures(fake_zoho, live_token):
    assert metrics.enabled()
    row = live_token(USER)
    ok_before = sample("zoho_tokens_refreshes_total", outcome="ok")
    finds_before = sample("zoho_tokens_find_token_seconds_count")
    latency_before = sample("zoho_tokens_refresh_seconds_count")
    expiries = 3
    for _ in range(expiries):
        ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
        assert herd() == []
    assert fake_zoho.counters["refresh_ok"] == expiries
    assert sample("zoho_tokens_refreshes_total", outcome="ok") - ok_before == expiries
    assert sample("zoho_tokens_refresh_seconds_count") - latency_before == expiries
    assert sample("zoho_tokens_find_token_seconds_count") - finds_before == expiries * 6 * 3

    failed_before = sample("zoho_tokens_refreshes_total", outcome="unexpected")
    errors_before = sample("zoho_tokens_zoho_errors_total", code="unexpected")
    backoffs_before = sample("zoho_tokens_backoffs_total")
    fake_zoho.fail_mode = "500"
    ZohoToken.objects.filter(pk=row.pk).update(expiry_time=now_ms() + 2000)
    herd(threads=4, calls=2)  # one asks Zoho and fails; the others are held back
    assert sample("zoho_tokens_refreshes_total", outcome="unexpected") - failed_before == 1
    assert sample("zoho_tokens_zoho_errors_total", code="unexpected") - errors_before == 1
    assert sample("zoho_tokens_backoffs_total") - backoffs_before == 1

    with CaptureQueriesContext(connection) as queries:
        text = prometheus_client.generate_latest(REGISTRY).decode()
    assert len(queries) <= 2
    assert 'zoho_tokens_connections{status="backing_off"} 1.0' in text
    assert "zoho_tokens_tenants 1.0" in text


@pytest.mark.django_db
def test_the_status_scrape_is_one_query_whatever_the_number_of_rows(fake_zoho, live_token):
    for n in range(5):
        live_token(f"m{n}@example.com:1", tenant=f"t{n % 2}", invalid_reason="x" if n else "")
    with CaptureQueriesContext(connection) as queries:
        families = list(metrics.ConnectionsCollector().collect())
    assert len(queries) == 1
    values = {s.labels.get("status", s.name): s.value for f in families for s in f.samples}
    assert values["invalid"] == 4 and values["active"] == 1 and values["zoho_tokens_tenants"] == 2


def test_without_prometheus_client_nothing_is_imported_and_the_store_works():
    script = (
        "import sys; sys.modules['prometheus_client'] = None\n"  # as if not installed
        "import django; django.setup()\n"
        "from zoho_tokens import metrics\n"
        "assert not metrics.enabled() and metrics.prometheus_client is None\n"
        "assert metrics.find_token_started() == 0.0\n"
        "metrics.find_token_done(0.0); metrics.refresh_answered(1.0)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
