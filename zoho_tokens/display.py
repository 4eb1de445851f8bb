"""How times, expiries and audit details read to an operator (admin pages, command output).

Times to the second in the project's time zone, so that a minute's events do not all read
alike; relative times from Django's own ``timesince``/``timeuntil`` (translated and
pluralised, two units deep: "1 hour, 5 minutes"); an expiry in epoch milliseconds (the SDK's
unit) always as a date, never as a number.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import localtime
from django.utils.translation import get_language
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


def time_to_expiry(expiry_ms: int, now_ms: int | None = None) -> tuple[bool, str]:
    """Whether ``expiry_ms`` is still ahead, and how far it is from now ("29 minutes")."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ahead = expiry_ms > now_ms
    minutes = abs(expiry_ms - now_ms) // 60_000
    if minutes < _FIXED_UNITS_MINUTES:
        return ahead, _span(ahead, minutes, get_language())
    moment = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC)
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    return ahead, (timeuntil(moment, now) if ahead else timesince(moment, now))


#: Below four weeks ``timesince`` counts fixed units (weeks, days, hours, minutes), so its text
#: depends on the whole minutes only; ``list`` of 100k tokens then formats a few hundred spans
#: instead of 100k (``timesince`` was a third of its time).
_FIXED_UNITS_MINUTES = 28 * 24 * 60
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _span(ahead: bool, minutes: int, language: str | None) -> str:
    later = _EPOCH + timedelta(minutes=minutes)
    return timeuntil(later, _EPOCH) if ahead else timesince(_EPOCH, later)


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
