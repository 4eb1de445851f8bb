"""Operations shared by the admin, the management commands, the web views and tasks.

One module per operation: ``grants`` (exchange), ``refreshes``, ``revocations``, ``purges``,
``retention`` (pruning the audit).
Each takes ``source`` and ``actor`` so signals and audit rows say who did what. Operations on
several tokens return one ``outcomes.Report`` with one ``Outcome`` per token; the callers only
present it (``outcomes.line``, ``outcomes.summary``).
Anything a user can fix raises a ``ServiceError`` subclass (one safe line: what happened
and what to do; ``code`` and ``status_code`` say which kind).
"""

from zoho_tokens.exceptions import ServiceError
from zoho_tokens.outcomes import OK_STATUSES, Outcome, Report, Status
from zoho_tokens.services.base import label
from zoho_tokens.services.grants import (
    GRANTS_WARNING,
    ZOHO_REFRESH_TOKEN_LIMIT,
    exchange_grant,
    recent_grants,
)
from zoho_tokens.services.purges import PurgeSelection, purge
from zoho_tokens.services.refreshes import (
    Shard,
    refresh_now,
    refresh_tokens,
    select_for_refresh,
)
from zoho_tokens.services.retention import PruneReport, prune_audit
from zoho_tokens.services.revocations import (
    pending_replaced,
    revoke,
    revoke_replaced,
    revoke_tokens,
)

__all__ = [
    "GRANTS_WARNING",
    "OK_STATUSES",
    "ZOHO_REFRESH_TOKEN_LIMIT",
    "Outcome",
    "PruneReport",
    "PurgeSelection",
    "Report",
    "ServiceError",
    "Shard",
    "Status",
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
