"""What an operation on many tokens did: one ``Outcome`` per token, in one ``Report``.

Refresh, revoke, purge, import and rotate-keys all answer in this one shape (as Django's
checks answer in ``CheckMessage``), with the status from one vocabulary (``Status``), so the
admin, the commands and the tasks render every operation with the same two functions:
``line`` for one outcome and ``summary`` for a report. Nothing here holds a secret: ``row``
is never rendered or serialised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    """What an operation did to one token."""

    REFRESHED = "refreshed", _("refreshed")
    NOT_DUE = "not_due", _("not due (refreshed meanwhile by another worker)")
    THROTTLED = "throttled", _("throttled by Zoho (held back)")
    INVALID = "invalid", _("invalid (connect again)")
    SKIPPED = "skipped", _("skipped")
    UNREADABLE = "unreadable", _("unreadable (no key decrypts it)")
    REVOKED = "revoked", _("revoked at Zoho and deleted")
    DELETED = "deleted", _("already invalid at Zoho; deleted")
    KEPT = "kept", _("kept")
    IMPORTED = "imported", _("imported")
    REPLACED = "replaced", _("replaced")
    PURGED = "purged", _("purged (deleted locally)")
    ROTATED = "rotated", _("re-encrypted with the first key")
    FAILED = "failed", _("failed")
    MISSING = "missing", _("no such token")


#: The statuses that leave nothing to do: any other one makes a report not ok.
OK_STATUSES = frozenset(
    {
        Status.REFRESHED,
        Status.NOT_DUE,
        Status.REVOKED,
        Status.DELETED,
        Status.IMPORTED,
        Status.REPLACED,
        Status.PURGED,
        Status.ROTATED,
    }
)
#: Failures of the token's own (or an unknown id): what ``Report.failed`` counts.
FAILED_STATUSES = frozenset({Status.FAILED, Status.KEPT, Status.MISSING})


@dataclass
class Outcome:
    status: Status
    token_id: str = ""
    user_name: str = ""
    tenant: str = ""
    message: str = ""  # one line, never a secret
    row: Any = None  # the row after the attempt (or the import's source row); never shown
    server: str = ""  # the accounts server asked (refresh, revoke)
    changed: int = 0  # values of the token the operation rewrote (rotate-keys)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def label(self) -> str:
        """``<id> (<user name>[, tenant <t>])``: how every operation names a token."""
        if self.status == Status.MISSING:
            return str(self.token_id)
        tenant = f", tenant {self.tenant}" if self.tenant else ""
        return f"{self.token_id} ({self.user_name or 'no user name'}{tenant})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable, without the row (and so without any secret)."""
        expiry = getattr(self.row, "expiry_time", None) if self.row is not None else None
        return {
            "token_id": self.token_id,
            "user_name": self.user_name,
            "tenant": self.tenant,
            "status": str(self.status),
            "ok": self.ok,
            "message": str(self.message),
            "accounts_server": self.server,
            "expiry_time": expiry if isinstance(expiry, int) else None,
        }


def of(token: Any, status: Status, message: str = "", **extra: Any) -> Outcome:
    """The outcome of ``token`` (a ``ZohoToken``); ``extra``: ``row``, ``server``..."""
    return Outcome(
        status,
        str(token.pk),
        token.user_name or "",
        token.tenant or "",
        message,
        **extra,
    )


def missing(token_id: str) -> Outcome:
    return Outcome(Status.MISSING, str(token_id))


@dataclass
class Report:
    """What one operation did: one outcome per token, in the order they were tried."""

    outcomes: list[Outcome] = field(default_factory=list)
    #: accounts servers a refresh sweep held back and that failed the probe at its end too
    unreachable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(o.changed for o in self.outcomes)

    def count(self, *statuses: Status) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    def token_ids(self, *statuses: Status) -> list[str]:
        return [o.token_id for o in self.outcomes if o.status in statuses]

    @property
    def missing(self) -> list[str]:
        """Ids asked for that name no token."""
        return self.token_ids(Status.MISSING)

    @property
    def failed(self) -> int:
        """Tokens that failed for a reason of their own, and ids that name no token."""
        return self.count(*FAILED_STATUSES)

    @property
    def counts(self) -> dict[str, int]:
        """``{status: number}`` of the statuses that occurred, in ``Status`` order."""
        return {s.value: self.count(s) for s in Status if self.count(s)}

    @property
    def ok(self) -> bool:
        """Nothing left to do: every outcome ok, no unknown id."""
        return all(o.ok for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (a task's result): ``ok``, ``counts``, ``outcomes``, ``missing``,
        ``unreachable``."""
        return {
            "ok": self.ok,
            "counts": self.counts,
            "outcomes": [o.as_dict() for o in self.outcomes if o.status != Status.MISSING],
            "missing": self.missing,
            "unreachable": list(self.unreachable),
        }


def line(outcome: Outcome) -> str:
    """One outcome as one line: ``<id> (<user name>): <status>[: <message>]`` (an unknown
    id: ``<id>: no such token``)."""
    if outcome.status == Status.MISSING:
        return f"{outcome.token_id}: {Status.MISSING.label}"
    text = f"{outcome.label}: {outcome.status.value.replace('_', ' ')}"
    return f"{text}: {outcome.message}" if outcome.message else text


def summary(
    verb: str,
    counts: Iterable[tuple[int, str]],
    optional: Iterable[tuple[int, str]] = (),
    note: str = "",
) -> str:
    """A report as one line: ``<verb>: 2 refreshed, 1 failed[, 3 throttled][; <note>]``:
    ``counts`` always, ``optional`` ones when not 0."""
    parts = [f"{n} {words}" for n, words in counts]
    parts += [f"{n} {words}" for n, words in optional if n]
    return f"{verb}: {', '.join(parts)}" + (f"; {note}" if note else "")
