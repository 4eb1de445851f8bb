"""Operations shared by the admin, the management commands, the web views and tasks.

One module per operation: ``grants`` (exchange), ``refreshes``, ``revocations``, ``purges``,
``retention`` (pruning the audit).
Each takes ``source`` and ``actor`` so signals and audit rows say who did what. Operations on
several tokens return a report with one outcome per token; the callers only present it.
Anything a user can fix raises a ``ServiceError`` subclass (one safe line: what happened
and what to do; ``code`` and ``status_code`` say which kind).
"""

from zoho_tokens.exceptions import ServiceError
from zoho_tokens.services.base import label
from zoho_tokens.services.grants import (
    GRANTS_WARNING,
    ZOHO_REFRESH_TOKEN_LIMIT,
    exchange_grant,
    recent_grants,
)
from zoho_tokens.services.purges import PurgeSelection, purge
from zoho_tokens.services.refreshes import (
    REFRESH_OK,
    RefreshOutcome,
    RefreshReport,
    RefreshStatus,
    Shard,
    refresh_now,
    refresh_tokens,
    select_for_refresh,
)
from zoho_tokens.services.retention import PruneReport, prune_audit
from zoho_tokens.services.revocations import (
    ReplacedReport,
    RevokeOutcome,
    RevokeReport,
    pending_replaced,
    revoke,
    revoke_replaced,
    revoke_tokens,
)

__all__ = [
    "GRANTS_WARNING",
    "REFRESH_OK",
    "ZOHO_REFRESH_TOKEN_LIMIT",
    "PruneReport",
    "PurgeSelection",
    "RefreshOutcome",
    "RefreshReport",
    "RefreshStatus",
    "ReplacedReport",
    "RevokeOutcome",
    "RevokeReport",
    "ServiceError",
    "Shard",
    "exchange_grant",
    "label",
    "pending_replaced",
    "prune_audit",
    "purge",
    "recent_grants",
    "refresh_now",
    "refresh_tokens",
    "revoke",
    "revoke_replaced",
    "revoke_tokens",
    "select_for_refresh",
]
