"""A django-health-check backend for the Zoho connections (``pip install zoho-tokens[health]``).

Add it to the project's health view::

    path("ht/", HealthCheckView.as_view(checks=[
        "health_check.checks.Database",
        "zoho_tokens.contrib.health_check.ZohoTokens",
    ]))

A connection that needs a person (invalid, unreadable) makes the check fail; a degraded one
(backing off, expiring without a refresh token) only when ``fail_on="degraded"``: a load
balancer should not take a web server out of service because Zoho is slow for one tenant.
The report is ``zoho_tokens.health.check``; its message names counts and reasons, no secret.
"""

from __future__ import annotations

import dataclasses
import datetime

from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from zoho_tokens import health


@dataclasses.dataclass
class ZohoTokens(HealthCheck):
    """Fails when a Zoho connection needs a person (or, with ``fail_on="degraded"``, when one
    is degraded). ``tenant``: only that tenant's connections (None: every tenant's)."""

    tenant: str | None = None
    fail_on: str = "critical"
    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=5), repr=False
    )

    def run(self) -> None:
        report = health.check(self.tenant, limit=3)
        if report.level == health.OK:
            return
        reasons = "; ".join(f"{a.user_name or a.token_id}: {a.reason}" for a in report.attention)
        message = report.summary() + (f" - {reasons}" if reasons else "")
        if report.level == health.CRITICAL:
            raise ServiceUnavailable(message)
        if self.fail_on == "degraded":
            raise ServiceWarning(message)
