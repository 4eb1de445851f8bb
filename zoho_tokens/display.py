"""How times, expiries and audit details read to an operator (admin pages, command output).

Times to the second in the project's time zone, so that a minute's events do not all read
alike; relative times from Django's own ``timesince``/``timeuntil`` (translated and
pluralised, two units deep: "1 hour, 5 minutes"); an expiry in epoch milliseconds (the SDK's
unit) always as a date, never as a number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from zoho_tokens.models import AuditAction


def when(value: datetime | None) -> str:
    """A time as operators read it: to the second, in the project's time zone."""
    if value is None:
        return "—"
    return date_format(localtime(value), "Y-m-d H:i:s T")


def epoch_ms_when(value: Any) -> str:
    """An epoch-milliseconds expiry as a date, like ``when``."""
    try:
        return when(datetime.fromtimestamp(int(value) / 1000, tz=UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def time_to_expiry(expiry_ms: int) -> tuple[bool, str]:
    """Whether ``expiry_ms`` is still ahead, and how far it is from now ("29 minutes")."""
    moment = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC)
    now = datetime.now(tz=UTC)
    if moment > now:
        return True, timeuntil(moment, now)
    return False, timesince(moment, now)


def expires_phrase(expiry_ms: int) -> str:
    """``expires in 29 minutes`` / ``expired 3 minutes ago``."""
    ahead, span = time_to_expiry(expiry_ms)
    if ahead:
        return _("expires in %(span)s") % {"span": span}
    return _("expired %(span)s ago") % {"span": span}


def detail_text(detail: Any) -> str:
    """An audit event's detail as ``key: value`` pairs; expiry as a date, never epoch ms."""
    if not isinstance(detail, dict) or not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if isinstance(value, list | dict) and not value:
            continue  # e.g. no replaced ids: nothing to say
        if key == "expiry_time" and value is not None:
            key, value = _("access token expires"), epoch_ms_when(value)
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def action_label(action: str) -> str:
    """An audit action's label ("grant exchange failed"), or the stored value if unknown."""
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action
