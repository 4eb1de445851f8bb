"""Prometheus metrics under ``zoho_tokens_`` (``pip install zoho-tokens[metrics]``).

In the process's default registry, so the ``/metrics`` a project already exposes
(django-prometheus, ``prometheus_client.start_http_server``, ...) shows them:

- ``zoho_tokens_refreshes_total{outcome}``: refreshes by outcome (``ok``, or the
  ``token_refresh_failed`` reason: refused, throttled, unreachable, unexpected, zoho_error);
- ``zoho_tokens_refresh_seconds``: how long Zoho took to answer a refresh;
- ``zoho_tokens_zoho_errors_total{code}``: Zoho's error codes (or ours: network, timeout);
- ``zoho_tokens_backoffs_total``: failed refreshes that made the connection back off;
- ``zoho_tokens_lease_wait_seconds``: how long a worker waited for another's refresh;
- ``zoho_tokens_find_token_seconds``: the store's ``find_token`` (the SDK's every call);
- ``zoho_tokens_connections{status}`` and ``zoho_tokens_tenants``: read at scrape time, in
  one bounded query (one aggregate row, however many tokens and tenants).

Without ``prometheus_client`` nothing is imported and every hook is a no-op; with it,
``ZOHO_TOKENS["METRICS"] = False`` keeps them off. Outcomes come from the lifecycle signals
(``token_refreshed``, ``token_refresh_failed``), timings from the refresher and the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

try:
    import prometheus_client
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the [metrics] extra is not installed: every hook below does nothing
    prometheus_client = None  # type: ignore[assignment]

from django.db.models import Count, Q
from django.dispatch import Signal

from zoho_tokens import signals
from zoho_tokens.models import TokenStatus, ZohoToken

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The metric objects, registered once per process in ``registry``."""

    def __init__(self, registry: Any) -> None:
        assert prometheus_client is not None
        p = prometheus_client
        self.refreshes = p.Counter(
            "zoho_tokens_refreshes",
            "Zoho token refreshes by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.refresh_seconds = p.Histogram(
            "zoho_tokens_refresh_seconds",
            "Time Zoho took to answer a refresh.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.zoho_errors = p.Counter(
            "zoho_tokens_zoho_errors",
            "Zoho error answers to refreshes, by code.",
            ["code"],
            registry=registry,
        )
        self.backoffs = p.Counter(
            "zoho_tokens_backoffs",
            "Failed refreshes that made a connection back off.",
            registry=registry,
        )
        self.lease_wait = p.Histogram(
            "zoho_tokens_lease_wait_seconds",
            "Time a worker waited for another's refresh.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.find_token = p.Histogram(
            "zoho_tokens_find_token_seconds",
            "DjangoTokenStore.find_token duration.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        registry.register(ConnectionsCollector())


_metrics: Metrics | None = None


def install(registry: Any = None) -> bool:
    """Create and register the metrics once (``AppConfig.ready``); False without the extra."""
    global _metrics
    if prometheus_client is None:
        return False
    if _metrics is None:
        _metrics = Metrics(registry or prometheus_client.REGISTRY)
        for signal, receiver in RECEIVERS:
            signal.connect(receiver, dispatch_uid=f"zoho_tokens.metrics.{receiver.__name__}")
    return True


def enabled() -> bool:
    return _metrics is not None


# -- hooks (no-ops without the extra) ----------------------------------------------------------


def find_token_started() -> float:
    """``time.perf_counter()`` when metrics are on, else 0 (then ``find_token_done`` is free)."""
    return time.perf_counter() if _metrics is not None else 0.0


def find_token_done(started: float) -> None:
    if _metrics is not None and started:
        _metrics.find_token.observe(time.perf_counter() - started)


def refresh_answered(seconds: float) -> None:
    if _metrics is not None:
        _metrics.refresh_seconds.observe(seconds)


def lease_waited(seconds: float) -> None:
    if _metrics is not None:
        _metrics.lease_wait.observe(seconds)


def _on_refreshed(sender: Any, **kwargs: Any) -> None:
    if _metrics is not None:
        _metrics.refreshes.labels(outcome="ok").inc()


def _on_refresh_failed(
    sender: Any, reason: str, zoho_error: str, backoff_until: Any, **kwargs: Any
) -> None:
    if _metrics is None:
        return
    _metrics.refreshes.labels(outcome=reason).inc()
    _metrics.zoho_errors.labels(code=zoho_error[:40]).inc()
    if backoff_until is not None:
        _metrics.backoffs.inc()


RECEIVERS: list[tuple[Signal, Callable[..., None]]] = [
    (signals.token_refreshed, _on_refreshed),
    (signals.token_refresh_failed, _on_refresh_failed),
]


class ConnectionsCollector:
    """``zoho_tokens_connections{status}`` and ``zoho_tokens_tenants``: one aggregate query
    per scrape (conditional counts over the status rule), bounded whatever the table size."""

    def collect(self) -> Any:
        statuses = [str(s) for s in TokenStatus.values]
        counts = ZohoToken.objects.with_status().aggregate(
            tenants=Count("tenant", distinct=True),
            **{s: Count("pk", filter=Q(token_status=s)) for s in statuses},
        )
        connections = GaugeMetricFamily(
            "zoho_tokens_connections", "Stored Zoho connections by status.", labels=["status"]
        )
        for status in statuses:
            connections.add_metric([status], counts[status] or 0)
        yield connections
        yield GaugeMetricFamily(
            "zoho_tokens_tenants", "Tenants with a stored Zoho connection.", counts["tenants"] or 0
        )

    def describe(self) -> Any:
        return []  # no query at registration time
