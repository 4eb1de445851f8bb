"""Admin for Zoho tokens and their audit trail: read-only by construction, secrets masked.

- No admin form edits a token: ``has_change_permission`` is always False, so the change page
  is Django's view-only page, and its fields are masked displays, never the secret columns
  (nothing on any page decrypts a value except ``ZohoToken.masked``).
- "Add" is "Connect with a grant token" (``services.exchange_grant``).
- Deleting is only possible through the two audited actions, ``revoke_selected`` and
  ``purge_selected``: ``has_delete_permission`` is False, which also removes Django's
  ``delete_selected`` and the single-object delete page.
- The changelist runs a fixed number of queries however many rows there are (no relations,
  status computed from plain columns, filters built from one query each).

Modules: ``base`` (hidden where a schema has no tables), ``filters``, ``tokens`` (the token
list and page), ``actions`` (revoke and purge, each after a confirmation page), ``audit``
(the audit trail). Importing this package registers both ModelAdmins.
"""

from zoho_tokens.admin.audit import TokenAuditEventAdmin
from zoho_tokens.admin.base import SchemaAwareAdmin
from zoho_tokens.admin.tokens import ZohoTokenAdmin

__all__ = ["SchemaAwareAdmin", "TokenAuditEventAdmin", "ZohoTokenAdmin"]
