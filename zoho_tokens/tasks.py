"""The refresh API for schedulers: cron, Celery beat, Django's ``@task``, django-q2, Huey.

Plain functions, no task framework imported: wrap them in whatever your project schedules
with (docs/how-to/schedulers.md). They never print and never raise
``SystemExit``; each returns a ``services.Report`` (one outcome per token) whose
``as_dict()`` is JSON-serialisable, for task result backends, and whose ``ok`` says whether
anything is left for a person to do. Database errors propagate, so the task fails visibly.

The sweep rules are ``services.refresh_tokens``', shared with ``zoho_tokens refresh``. Each
sweep also retries revoking the refresh tokens reconnects replaced (``revoke_replaced``).
"""

from __future__ import annotations

from zoho_tokens import services
from zoho_tokens.models import AuditSource

__all__ = ["prune_audit", "refresh_all", "refresh_expiring"]


def refresh_expiring(
    within: int = 600, tenant: str | None = None, shard: str | None = None
) -> services.Report:
    """Refresh every token whose access token expires within ``within`` seconds (or has
    expired), of ``tenant`` (None: every tenant; "": the default tenant); with ``shard``
    ("I/N"), only share I of N, so N tasks sweep in parallel (``project/recipes``).

    Run it more often than ``within`` (every 5 minutes for the default 10), so that no
    access token expires between two runs. Invalid tokens are reported on every run.
    """
    if within < 0:
        raise ValueError("within must be 0 or more seconds")
    report = services.refresh_tokens(
        expiring_within=within, tenant=tenant, source=AuditSource.TASK, shard=shard
    )
    services.revoke_replaced()  # retry revoking what reconnects replaced
    return report


def refresh_all(tenant: str | None = None) -> services.Report:
    """Refresh every token (of ``tenant``) now, due or not. Each refresh counts against
    Zoho's limit of 10 access tokens per refresh token in 10 minutes: prefer
    ``refresh_expiring`` on a schedule."""
    report = services.refresh_tokens(tenant=tenant, source=AuditSource.TASK)
    services.revoke_replaced()  # retry revoking what reconnects replaced
    return report


def prune_audit(days: int | None = None) -> services.PruneReport:
    """Delete audit rows older than ``days`` (default ``AUDIT_RETENTION_DAYS``; nothing when
    that is None), in short batches. Run it daily."""
    return services.prune_audit(days)
