"""Purge: delete tokens locally, without telling Zoho (``zoho_tokens purge``, the admin's
purge action); one audit row and one ``tokens_purged`` per purge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from zoho_tokens import context, rows
from zoho_tokens.context import AuditSource
from zoho_tokens.exceptions import ServiceError
from zoho_tokens.models import TokenStatus, ZohoToken, ZohoTokenQuerySet
from zoho_tokens.outcomes import Report


@dataclass(frozen=True)
class PurgeSelection:
    """Which tokens a purge deletes. Criteria combine with AND; ``everything`` stands alone."""

    invalid: bool = False
    older_than_days: int | None = None
    everything: bool = False
    tenant: str | None = None
    #: ``TokenStatus`` values (``with_status_in``: the rule the admin and ``list`` use);
    #: ``invalid=True`` is ``statuses=("invalid",)``.
    statuses: tuple[str, ...] = ()

    def problem(self) -> str:
        """Why this selection is refused ("" when it is fine): a purge needs a criterion."""
        unknown = sorted(set(self.statuses) - set(TokenStatus.values))
        if unknown:
            return (
                f"unknown status {', '.join(unknown)}: use one of {', '.join(TokenStatus.values)}"
            )
        criteria = self.invalid or bool(self.statuses) or self.older_than_days is not None
        if not criteria and not self.everything:
            return (
                "refusing to purge without a criterion: pass --status STATUS, --invalid, "
                "--older-than DAYS or --all"
            )
        if criteria and self.everything:
            return "--all cannot be combined with --status, --invalid or --older-than"
        return ""

    def queryset(self) -> ZohoTokenQuerySet:
        selected = ZohoToken.objects.all()
        if self.tenant is not None:
            selected = selected.for_tenant(self.tenant)
        statuses = {*self.statuses, *([TokenStatus.INVALID.value] if self.invalid else [])}
        if statuses:
            selected = selected.with_status_in(*sorted(statuses))
        if self.older_than_days is not None:
            selected = selected.not_updated_since(self.older_than_days)
        return selected.order_by("tenant", "user_name", "id")

    def rows(self) -> list[ZohoToken]:
        """The selected rows, tenant compared exactly (``ZohoToken.objects.exactly``)."""
        return list(self.queryset().exactly(self.tenant))


def purge(
    selection: QuerySet | PurgeSelection,
    *,
    tenant: str = "",
    source: AuditSource = AuditSource.COMMAND,
    actor: Any = None,
) -> Report:
    """Delete rows locally (no call to Zoho): an audit row per token and one ``tokens_purged``;
    one ``purged`` outcome per token."""
    scoped = False
    if isinstance(selection, PurgeSelection):
        if selection.problem():
            raise ServiceError(selection.problem())
        scoped = selection.tenant is not None
        tenant = selection.tenant or tenant
        selection = selection.queryset()
    with context.origin(source, actor):
        return rows.purge(selection, tenant=tenant, exact_tenant=scoped)
