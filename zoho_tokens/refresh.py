"""Single-flight refresh ahead of expiry: one refresh per expiry, however many workers.

When the store is about to hand out a token whose access token expires within
``REFRESH_AHEAD_SECONDS``, it refreshes it here first, so the SDK never refreshes on its own
(the SDK refreshes below 5 s, in every process at once, and Zoho throttles after 10).

Exactly one worker wins a compare-and-set lease on the row
(``UPDATE ... SET refresh_lease_until = now + lease WHERE id = ? AND expiry_time = <seen>
AND lease is free``); the others poll the row until its expiry changes. We use this lease on
every backend rather than ``select_for_update`` held across the HTTP call: it works the same on
SQLite (which has no row locks), holds no database lock or connection-level transaction while
Zoho answers, and a crashed worker's lease simply runs out.

When Zoho answers "Access Denied" (too many refreshes), the lease is kept for
``THROTTLE_BACKOFF_SECONDS`` under the owner ``"throttled"``: until it runs out no worker asks
Zoho again (each would only prolong the block); they use the current access token while it is
valid and otherwise get a clear error.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.db.models import Q
from django.utils import timezone

from zoho_tokens import accounts, audit
from zoho_tokens.conf import accounts_base_url, data_center_of, zoho_settings
from zoho_tokens.exceptions import TokenInvalidError, TokenStoreError
from zoho_tokens.models import ZohoToken

logger = logging.getLogger("zoho_tokens")

SDK_THRESHOLD_MS = 5000
POLL_SECONDS = 0.05
THROTTLE_BACKOFF_SECONDS = 60
BACKOFF_OWNER = "throttled"


def now_ms() -> int:
    return int(time.time() * 1000)


def needs_refresh(row: ZohoToken, ahead_seconds: int | None = None) -> bool:
    ahead = zoho_settings.REFRESH_AHEAD_SECONDS if ahead_seconds is None else ahead_seconds
    return row.expiry_time is not None and row.expiry_time - now_ms() <= int(ahead) * 1000


def ensure_fresh(row: ZohoToken) -> ZohoToken:
    """Return ``row``, refreshed first if it is inside the refresh window."""
    if not needs_refresh(row):
        return row
    if row.invalid_reason:
        raise TokenInvalidError(
            f"Zoho token {row.pk} ({row.user_name}) is invalid (Zoho: {row.invalid_reason}); "
            "connect this user again with 'manage.py zoho_login'"
        )
    if not row.has_refresh_token or not row.client_id:
        return row  # nothing we can refresh with; let the SDK decide
    return refresh_token(row)


def accounts_url_for(row: ZohoToken) -> str:
    """Where to refresh or revoke ``row``.

    The SDK's active environment when it serves this token's api domain; else
    ``ACCOUNTS_URL``; else the accounts server of the token's data center. The SDK's
    environment is process-wide (or per thread after ``switch_user``), so in a multi-tenant
    process it may belong to another tenant's data center: it is only trusted for tokens
    of its own api domain.
    """
    try:
        from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer

        initializer = Initializer.get_initializer()
        environment = getattr(initializer, "environment", None)
        if environment is not None and _same_domain(environment.url, row.api_domain):
            return environment.accounts_url
    except Exception:  # noqa: S110 - an uninitialised SDK is a normal case here
        pass
    return accounts_base_url(data_center_of(row.api_domain))


def _same_domain(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).rstrip("/").lower() == str(b).rstrip("/").lower()


def _still_valid(row: ZohoToken) -> bool:
    return row.expiry_time is not None and row.expiry_time - now_ms() > SDK_THRESHOLD_MS


def refresh_token(row: ZohoToken, *, force: bool = False) -> ZohoToken:
    """Refresh ``row`` once across workers; return the row holding the new access token.

    ``force`` refreshes even outside the window (``zoho_tokens refresh``), still once.
    """
    seen_expiry = row.expiry_time
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + float(zoho_settings.REFRESH_WAIT_SECONDS)
    while True:
        if _acquire(row, seen_expiry, owner):
            return _refresh_as_owner(row, owner, force=force)
        current = ZohoToken.objects.filter(pk=row.pk).first()
        if current is None:
            raise TokenStoreError(f"Zoho token {row.pk} was deleted while refreshing")
        if current.expiry_time != seen_expiry:
            return current  # another worker refreshed it
        if current.invalid_reason:
            raise TokenInvalidError(
                f"Zoho token {row.pk} ({row.user_name}) is invalid "
                f"(Zoho: {current.invalid_reason}); connect this user again"
            )
        if _backing_off(current):
            if _still_valid(current) and not force:
                return current
            raise TokenStoreError(
                f"Zoho is throttling refreshes of token {row.pk} (Zoho: Access Denied); not "
                f"asking again for {(current.refresh_lease_until - now_ms()) // 1000 + 1} s. "
                f"{accounts.Throttled.hint}"
            )
        if current.refresh_lease_until is None and not force:
            # The other worker finished without a new token (throttled or unreachable).
            if _still_valid(current):
                return current
            raise TokenStoreError(
                f"another worker's refresh of Zoho token {row.pk} failed and its access token "
                "has expired; see the log for Zoho's answer and try again later"
            )
        if time.monotonic() > deadline:
            if _still_valid(current):
                return current
            raise TokenStoreError(
                f"timed out after {zoho_settings.REFRESH_WAIT_SECONDS} s waiting for another "
                f"worker to refresh Zoho token {row.pk}"
            )
        time.sleep(POLL_SECONDS)


def _acquire(row: ZohoToken, seen_expiry: int | None, owner: str) -> bool:
    now = now_ms()
    lease_ms = int((float(zoho_settings.HTTP_TIMEOUT) * 2 + 5) * 1000)
    free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now)
    return bool(
        ZohoToken.objects.filter(pk=row.pk, expiry_time=seen_expiry)
        .filter(free)
        .update(refresh_lease_until=now + lease_ms, refresh_lease_owner=owner)
    )


def _backing_off(row: ZohoToken) -> bool:
    return (
        row.refresh_lease_owner == BACKOFF_OWNER
        and row.refresh_lease_until is not None
        and row.refresh_lease_until >= now_ms()
    )


def _hold_back(row: ZohoToken, owner: str) -> None:
    """Keep the lease after "Access Denied", so nobody asks Zoho again for a while."""
    ZohoToken.objects.filter(pk=row.pk, refresh_lease_owner=owner).update(
        refresh_lease_until=now_ms() + THROTTLE_BACKOFF_SECONDS * 1000,
        refresh_lease_owner=BACKOFF_OWNER,
    )


def _release(row: ZohoToken, owner: str) -> None:
    ZohoToken.objects.filter(pk=row.pk, refresh_lease_owner=owner).update(
        refresh_lease_until=None, refresh_lease_owner=""
    )


def _refresh_as_owner(row: ZohoToken, owner: str, *, force: bool = False) -> ZohoToken:
    from zoho_tokens.store import DjangoTokenStore

    try:
        answer = accounts.refresh(
            accounts_url_for(row),
            refresh_token=row.refresh_token,
            client_id=row.client_id,
            client_secret=row.client_secret,
        )
    except accounts.InvalidRefreshToken as exc:
        mark_invalid(row, exc.code)
        _release(row, owner)
        raise TokenInvalidError(
            f"Zoho rejected the refresh token of token {row.pk} ({row.user_name}) "
            f"(Zoho: {exc.code}); the token is marked invalid: connect this user again"
        ) from None
    except accounts.ZohoError as exc:
        if isinstance(exc, accounts.Throttled):
            _hold_back(row, owner)
        else:
            _release(row, owner)
        logger.warning("zoho_tokens: refresh of token %s failed: %s", row.pk, exc)
        if _still_valid(row) and not force:
            return row  # the current access token still works; a forced refresh must say so
        raise TokenStoreError(f"refresh of Zoho token {row.pk} failed: {exc}; {exc.hint}") from None

    store = DjangoTokenStore(tenant=row.tenant, refresh_ahead=False)
    token = store._new_token()
    token.set_access_token(answer.access_token)
    token.set_expires_in(str(answer.expiry_time))
    if answer.refresh_token:
        token.set_refresh_token(answer.refresh_token)
    token.set_id(row.pk)
    try:
        store.save_token(token)
    finally:
        _release(row, owner)
    return ZohoToken.objects.get(pk=row.pk)


def mark_invalid(row: ZohoToken, reason: str) -> None:
    """Flag a token whose refresh token Zoho refused; audit ``refresh_failed``."""
    from django.db import transaction

    with transaction.atomic():
        ZohoToken.objects.filter(pk=row.pk).update(
            invalid_reason=reason[:200], invalidated_at=timezone.now()
        )
        audit.record("refresh_failed", token=row, outcome="invalid", detail={"zoho_error": reason})
    row.invalid_reason = reason
