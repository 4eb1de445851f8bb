"""Refresh now and refresh sweeps: one ``outcomes.Outcome`` per token, in a ``Report``
(``zoho_tokens refresh``, the admin, ``zoho_tokens.tasks`` for schedulers)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from zoho_tokens import context, refresh
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import accounts_url_for, host_of
from zoho_tokens.exceptions import (
    DecryptionError,
    ServiceError,
    TokenInvalidError,
    TokenStoreError,
    ZohoError,
    ZohoUnreachable,
)
from zoho_tokens.models import ZohoToken
from zoho_tokens.outcomes import Outcome, Report, Status, missing, of


def refresh_now(
    row: ZohoToken, *, source: AuditSource = AuditSource.COMMAND, actor: Any = None
) -> ZohoToken:
    """Refresh a token's access token now (single-flight with any worker doing the same).

    Raises ``TokenInvalidError`` for a token that cannot be refreshed, ``DecryptionError``
    when no key opens its secrets, else ``RefreshFailed`` whose ``reason`` says why:
    ``ZohoError.THROTTLED``, ``ZohoUnreachable``'s ``network`` or ``timeout``, Zoho's own code.
    """
    return _refresh_now(row, source=source, actor=actor)[0]


def _refresh_now(row: ZohoToken, *, source: str, actor: Any) -> tuple[ZohoToken, bool]:
    """``refresh_now``, and whether this call refreshed it (``refresh.refresh_once``)."""
    if row.invalid_reason:
        raise TokenInvalidError(
            f"token {row.pk} is invalid (Zoho: {row.invalid_reason}): connect this user again"
        )
    if not row.has_refresh_token:
        raise TokenInvalidError(f"token {row.pk} has no refresh token to refresh with")
    with context.origin(source, actor):
        return refresh.refresh_once(row, force=True)


@dataclass(frozen=True)
class Shard:
    """Share ``index`` of ``count`` (1-based, ``"2/4"``): N workers sweeping together each
    refresh a disjoint share of the tokens (by a hash of the id), so none waits on another
    and no token is refreshed twice. The share is decided in the selection, per token id."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ServiceError(
                f"shard {self.index}/{self.count} does not exist: use I/N with 1 <= I <= N, "
                "e.g. 1/4 to 4/4 for four workers"
            )

    @classmethod
    def parse(cls, text: str | Shard | None) -> Shard | None:
        """``"I/N"`` (or a Shard, or None for no sharding)."""
        if text is None or isinstance(text, Shard):
            return text
        index, sep, count = str(text).partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ServiceError(f"shard {text!r} is not I/N: use e.g. 1/4 to 4/4 for four workers")
        return cls(int(index), int(count))

    def owns(self, token_id: str) -> bool:
        return zlib.crc32(str(token_id).encode()) % self.count == self.index - 1


#: Rows loaded per round trip by a sweep: it starts at once, and memory stays flat.
SWEEP_CHUNK = 500


def _shard_ids(selection: Iterable[Any], shard: Shard | None) -> list[str]:
    """The ids of the selection (in its order) that are this ``shard``'s. (A selection of
    rows rather than a QuerySet works too: only their ids are used.)"""
    if isinstance(selection, QuerySet):
        ids: Iterable[str] = selection.values_list("pk", flat=True)
    else:
        ids = [row.pk for row in selection]
    return [pk for pk in ids if shard is None or shard.owns(pk)]


def _load(ids: list[str]) -> Iterator[ZohoToken]:
    """The rows of ``ids``, in that order, loaded in chunks: a sweep of 130k tokens starts at
    once and holds ``SWEEP_CHUNK`` rows, not all of them."""
    for start in range(0, len(ids), SWEEP_CHUNK):
        chunk = ids[start : start + SWEEP_CHUNK]
        loaded = {row.pk: row for row in ZohoToken.objects.filter(pk__in=chunk)}
        yield from (loaded[pk] for pk in chunk if pk in loaded)


def select_for_refresh(
    ids: Iterable[str] = (),
    *,
    expiring_within: int | None = None,
    tenant: str | None = None,
) -> list[ZohoToken]:
    """The named tokens, or every token (of ``tenant``), soonest expiry first.

    Invalid tokens are selected too: they are never sent to Zoho, but a sweep reports them
    every time, so a scheduler keeps saying that someone must connect again. Tenant and ids
    are compared exactly (``ZohoToken.objects.exactly``), whatever the column's collation.
    """
    selected = ZohoToken.objects.all()
    if expiring_within is not None:
        selected = selected.expiring_within(expiring_within)
    ids = list(ids)
    # Light rows (id, tenant, user name): a sweep reloads each chunk in full (``_load``).
    ordered = selected.order_by("expiry_time", "id").only("pk", "tenant", "user_name")
    return list(ordered.exactly(tenant, ids=ids or None))


#: Zoho failures that say nothing about the token (the request or the server failed): a
#: sweep asks once more after ``RETRY_PAUSE_SECONDS``, and counts them against the server.
TRANSIENT_CODES = frozenset(
    {ZohoUnreachable.default_code, ZohoUnreachable.TIMEOUT, ZohoError.UNEXPECTED}
)
RETRY_PAUSE_SECONDS = 0.25
#: Consecutive tokens of one accounts server that failed transiently (each asked twice)
#: before a sweep holds that server back; it is probed once more at the end of the sweep.
HOLD_BACK_AFTER = 3


@dataclass
class _Server:
    """One accounts server during a sweep: consecutive transient failures, held back or
    not, and the tokens deferred while it was held back (tried at the end if a probe works)."""

    failures: int = 0
    last_error: str = ""
    deferred: list[ZohoToken] = field(default_factory=list)

    @property
    def held_back(self) -> bool:
        return self.failures >= HOLD_BACK_AFTER


def refresh_tokens(
    ids: Iterable[str] = (),
    *,
    expiring_within: int | None = None,
    tenant: str | None = None,
    source: AuditSource = AuditSource.COMMAND,
    actor: Any = None,
    shard: Shard | str | None = None,
) -> Report:
    """Refresh the selected tokens (see ``select_for_refresh``), each on its own; with
    ``shard`` ("I/N", ``Shard``), only this worker's share of them.

    One token's failure does not stop the others: a throttled token ("Access Denied" is
    per refresh token) is held back by the refresh layer for a while, and the others go on;
    a token no configured key decrypts, or that Zoho rejects, fails alone. A request that
    fails without a Zoho answer (reset, timeout, 5xx, garbage) is asked once more after a
    short pause. All tenants of a data center share its accounts server, so one flaky request
    must not cost them all their refresh: a server is held back only after
    ``HOLD_BACK_AFTER`` consecutive tokens failed that way; its remaining tokens are deferred,
    and at the end of the sweep one of them probes it: if that works, the others are tried
    too, else they are reported ``skipped`` with the reason. Any Zoho answer (even an error
    about one token) proves the server up and resets its count.
    With ``expiring_within``, a token that another worker refreshed since it was selected is
    ``not_due`` and not refreshed again (each refresh counts against Zoho's limit).
    """
    ids = list(dict.fromkeys(ids))
    share = Shard.parse(shard)
    report = Report()
    selection = select_for_refresh(ids, expiring_within=expiring_within, tenant=tenant)
    found = _shard_ids(selection, share)
    known = set(found)
    report.outcomes = [
        missing(i) for i in ids if i not in known and (share is None or share.owns(i))
    ]
    servers: dict[str, _Server] = {}
    for row in _load(found):
        outcome = _refresh_one(
            row, within=expiring_within, servers=servers, source=source, actor=actor
        )
        if outcome is not None:
            report.outcomes.append(outcome)
    for server, state in servers.items():
        if not state.deferred:
            continue
        state.failures = HOLD_BACK_AFTER - 1  # one probe: a failure holds it back again
        for row in state.deferred[:]:
            state.deferred.remove(row)
            outcome = _refresh_one(
                row, within=expiring_within, servers=servers, source=source, actor=actor
            )
            if outcome is not None:
                report.outcomes.append(outcome)
        for row in state.deferred:
            report.outcomes.append(_skipped(row, server, state))
        if state.held_back:
            report.unreachable.append(server)
    return report


def _skipped(row: ZohoToken, server: str, state: _Server) -> Outcome:
    message = (
        f"accounts server {host_of(server)} failed for {HOLD_BACK_AFTER} tokens in a row "
        f"(last: {state.last_error}), and again when probed at the end of the sweep: "
        "not tried, try again later"
    )
    return of(row, Status.SKIPPED, message, row=row, server=server)


def _refresh_one(
    row: ZohoToken,
    *,
    within: int | None,
    servers: dict[str, _Server],
    source: AuditSource,
    actor: Any,
) -> Outcome | None:
    """Refresh one token; None when it is deferred (its accounts server is held back)."""
    server = ""

    def outcome(status: Status, message: str, current: ZohoToken | None) -> Outcome:
        return of(row, status, message, row=current, server=server)

    # ``row`` was loaded with its chunk (``_load``) and may be stale: the refresh takes its
    # lease only while the expiry is the one loaded, so a token another worker refreshed
    # meanwhile is not refreshed again, and it says so (``refresh_once``): no read first.
    if row.invalid_reason:
        return outcome(Status.INVALID, _invalid_message(row), row)
    if (
        within is not None
        and row.expiry_time is not None
        and not refresh.needs_refresh(row, within)
    ):
        return outcome(Status.NOT_DUE, "refreshed meanwhile by another worker", row)
    server = accounts_url_for(row.api_domain, row.accounts_server)
    state = servers.setdefault(server, _Server())
    if state.held_back:
        state.deferred.append(row)
        return None
    before = (row.expiry_time, row.access_token_checksum)
    error: TokenStoreError | None = None
    answered: tuple[ZohoToken, bool] | None = None
    for attempt in (1, 2):
        try:
            answered = _refresh_now(row, source=source, actor=actor)
            error = None
        except TokenStoreError as exc:
            error = exc
        if error is None or error.reason not in TRANSIENT_CODES or attempt == 2:
            break
        time.sleep(RETRY_PAUSE_SECONDS)  # one more request: one flaky one costs nothing
    if error is not None and error.reason in TRANSIENT_CODES:
        state.failures += 1
        state.last_error = str(error.reason)
    else:
        state.failures = 0  # Zoho answered (or refreshed): the server is up
    if error is None and answered is not None:
        current, ours = answered
        if ours:
            return outcome(Status.REFRESHED, "refreshed", current)
        if within is not None and current.expiry_time != before[0]:
            return outcome(Status.NOT_DUE, "refreshed meanwhile by another worker", current)
    # Judge by what is stored: another worker may have refreshed it meanwhile.
    current = ZohoToken.objects.filter(pk=row.pk).first()
    if current is None:
        return outcome(Status.FAILED, "deleted while refreshing", None)
    if error is None and (current.expiry_time, current.access_token_checksum) != before:
        return outcome(Status.REFRESHED, "refreshed", current)
    if current.invalid_reason:
        return outcome(Status.INVALID, error.message if error else "", current)
    code = error.reason if error is not None else None
    message = error.message if error is not None else "Zoho issued no access token"
    if code == DecryptionError.default_code:
        return outcome(Status.UNREADABLE, message, current)
    if code == ZohoError.THROTTLED:
        return outcome(Status.THROTTLED, message, current)
    if code in TRANSIENT_CODES:
        message += " (asked twice)"
    return outcome(Status.FAILED, message, current)


def _invalid_message(row: ZohoToken) -> str:
    return (
        f"marked invalid (Zoho: {row.invalid_reason}), not sent to Zoho: connect this user "
        "again with 'manage.py zoho_login', or remove it with 'zoho_tokens purge --invalid'"
    )
