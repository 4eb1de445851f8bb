"""Are the Zoho connections usable? One report for the health command, django-health-check
and the admin's "needs attention" view.

``check(tenant=None)`` reads the status rule (``ZohoToken.with_status()``) in two bounded
queries: counts by status, and the first ``limit`` connections that are not fine. Levels, as
monitoring plugins use them (and ``manage.py zoho_tokens health`` exits with):

- ``ok`` (0): nothing below;
- ``degraded`` (1): a connection is backing off after failed refreshes, its access token
  expires soon with no way to refresh it (no refresh token or no client id), or its grant
  lacks a scope the project now asks for (``SCOPES``): calls needing that scope fail until
  someone reconnects, but nothing that worked has stopped working, so a load balancer must
  not take servers out of service for it (the day a scope is added, every connection lacks it);
- ``critical`` (2): a connection needs a person: Zoho refused it (invalid) or no configured
  key decrypts it (unreadable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from zoho_tokens.conf import key_list, zoho_settings
from zoho_tokens.models import TokenStatus, ZohoToken

NEEDS_PERSON = (TokenStatus.INVALID, TokenStatus.UNREADABLE)
DEGRADED = (TokenStatus.BACKING_OFF,)
ATTENTION = (*NEEDS_PERSON, *DEGRADED)
OK, DEGRADED_LEVEL, CRITICAL = "ok", "degraded", "critical"
EXIT_CODES = {OK: 0, DEGRADED_LEVEL: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Attention:
    """One connection that is not fine, and why, in words (never a secret)."""

    token_id: str
    tenant: str
    user_name: str
    status: str
    reason: str
    since: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "tenant": self.tenant,
            "user_name": self.user_name,
            "status": self.status,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
        }


@dataclass(frozen=True)
class HealthReport:
    """Counts by status, the connections that need a person (or are degraded), the level."""

    counts: dict[str, int]
    attention: list[Attention]
    no_refresh_path: int
    oldest_failure: dt.datetime | None
    tenant: str | None = None
    #: Connections whose stored scopes lack one of ``SCOPES`` (reconnect needed).
    lacking_scopes: int = 0
    truncated: bool = False
    level: str = field(default=OK)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.level]

    @property
    def needs_person(self) -> list[Attention]:
        return [a for a in self.attention if a.status in NEEDS_PERSON]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line, the way monitoring plugins start their output."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()) if n)
        text = f"{self.level.upper()}: {self.total} Zoho connection(s)"
        if counts:
            text += f" ({counts})"
        if self.no_refresh_path:
            text += f"; {self.no_refresh_path} expiring without a refresh token"
        if self.lacking_scopes:
            text += f"; {self.lacking_scopes} lacking scopes in SCOPES (reconnect needed)"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "tenant": self.tenant,
            "counts": self.counts,
            "no_refresh_path": self.no_refresh_path,
            "lacking_scopes": self.lacking_scopes,
            "oldest_failure": self.oldest_failure.isoformat() if self.oldest_failure else None,
            "attention": [a.as_json() for a in self.attention],
            "truncated": self.truncated,
        }


def reason_in_words(row: ZohoToken) -> str:
    """Why a connection is not fine, as an operator reads it (admin, command, health)."""
    status = row.status()
    if status == TokenStatus.INVALID:
        if row.invalid_reason:
            return _(
                "Zoho refused the refresh token (%(error)s): the user revoked the app, changed "
                "password or was removed, or Zoho's 20-token limit deleted it. Reconnect."
            ) % {"error": row.invalid_reason}
        return _("The access token expired and there is no refresh token. Reconnect.")
    if status == TokenStatus.UNREADABLE:
        return _(
            "No configured encryption key decrypts this token: restore the old key in "
            "ENCRYPTION_KEYS, or reconnect."
        )
    if status == TokenStatus.BACKING_OFF:
        return _("%(n)d refresh(es) failed in a row (last: %(error)s); retrying after a pause.") % {
            "n": row.refresh_failures,
            "error": row.refresh_error or "?",
        }
    if status == TokenStatus.INCOMPLETE:
        return _("No refresh token and no user: nothing can refresh it. Reconnect or purge.")
    return ""


def required_scopes() -> list[str]:
    """``SCOPES``: what the project asks every connection for."""
    return [s for s in key_list(zoho_settings.SCOPES) if s]


def missing_scopes(scope: str, wanted: list[str]) -> list[str]:
    """Which of ``wanted`` a stored ``scope`` ("A,B") lacks; none when the scopes are unknown
    ("": stored before they were recorded; Zoho itself will say)."""
    have = {s.lower() for s in (scope or "").split(",") if s}
    return [s for s in wanted if have and s.lower() not in have]


def lacks_scopes(wanted: list[str]) -> Q:
    """Rows whose stored scopes lack one of ``wanted``, in SQL (on ``scope_lower``): the
    stored form is ``"A,B,C"`` (``rows.normal_scope``), so a scope is one of its items."""
    if not wanted:
        return Q(pk__in=[])
    lacking = Q()
    for scope in dict.fromkeys(s.lower() for s in wanted):
        has = (
            Q(scope_lower=scope)
            | Q(scope_lower__startswith=scope + ",")
            | Q(scope_lower__endswith="," + scope)
            | Q(scope_lower__contains="," + scope + ",")
        )
        lacking |= ~has
    return ~Q(scope="") & lacking


def scope_reason(missing: list[str]) -> str:
    return _(
        "Reconnect needed: its grant lacks %(scopes)s (in ZOHO_TOKENS['SCOPES']); calls that "
        "need it fail until the user connects again."
    ) % {"scopes": ", ".join(missing)}


def _selection(tenant: str | None) -> Any:
    rows = ZohoToken.objects.with_status().alias(scope_lower=Lower("scope"))
    return rows if tenant is None else rows.filter(tenant=tenant)


def check(tenant: str | None = None, *, limit: int = 50) -> HealthReport:
    """The health of ``tenant``'s connections (every tenant's when None): two queries."""
    rows = _selection(tenant)
    wanted = required_scopes()
    lacking_q = lacks_scopes(wanted)
    counts: dict[str, int] = {}
    no_path = lacking = 0
    grouped = (
        rows.order_by()
        .values("token_status")
        .annotate(
            n=Count("pk"),
            no_path=Count(
                "pk", filter=Q(refresh_token_checksum="") | Q(client_id="") | Q(client_id=None)
            ),
            lacking=Count("pk", filter=lacking_q),
        )
    )
    for group in grouped:
        counts[group["token_status"]] = group["n"]
        lacking += group["lacking"]
        if group["token_status"] in (TokenStatus.EXPIRING, TokenStatus.EXPIRED):
            no_path += group["no_path"]
    found = list(
        rows.filter(Q(token_status__in=[str(s) for s in ATTENTION]) | lacking_q).order_by(
            F("invalidated_at").asc(nulls_last=True), "updated_at", "pk"
        )[: limit + 1]
    )
    attention = [
        Attention(
            token_id=row.pk,
            tenant=row.tenant,
            user_name=row.user_name or "",
            status=row.status(),
            reason=reason_in_words(row) or scope_reason(missing_scopes(row.scope, wanted)),
            since=row.invalidated_at or row.updated_at,
        )
        for row in found[:limit]
    ]
    if any(counts.get(s, 0) for s in NEEDS_PERSON):
        level = CRITICAL
    elif any(counts.get(s, 0) for s in DEGRADED) or no_path or lacking:
        level = DEGRADED_LEVEL
    else:
        level = OK
    sinces = [a.since for a in attention if a.since is not None]
    return HealthReport(
        counts=counts,
        attention=attention,
        no_refresh_path=no_path,
        oldest_failure=min(sinces) if sinces else None,
        tenant=tenant,
        lacking_scopes=lacking,
        truncated=len(found) > limit,
        level=level,
    )
