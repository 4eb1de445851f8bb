"""Search that an index serves: exact ids and tenants, or the start of a user name.

Django's default search (``icontains`` on every field, ``LIKE '%…%'``) reads the whole table
on every search; these lookups are index range reads (``ZohoToken``'s and
``TokenAuditEvent``'s indexes, with an ``UPPER()`` index for the prefix on PostgreSQL).

On MySQL/MariaDB the user name column compares byte for byte (exact identity, see
``zoho_tokens.collation``), and Django's ``istartswith`` there relies on the column's
collation to ignore case: the prefix is compared under a case-insensitive collation instead.
That reads the ``user_name`` index whole rather than a range of it (the server cannot seek a
binary index by a case-insensitive key); identity lookups stay exact.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Collate
from django.db.models.lookups import IStartsWith
from django.http import HttpRequest

#: The case-insensitive collation MySQL and MariaDB both have, for the prefix search only.
MYSQL_SEARCH_COLLATION = "utf8mb4_unicode_ci"


def prefix_match(queryset: QuerySet, name: str, term: str) -> Q:
    """Rows whose ``name`` starts with ``term`` in any case, on every backend."""
    field: F | Collate = F(name)
    if connections[queryset.db].vendor == "mysql":
        field = Collate(field, MYSQL_SEARCH_COLLATION)
    return Q(IStartsWith(field, term))


class IndexedSearchMixin:
    """``search_exact_fields`` equal the term; ``search_prefix_fields`` start with it (any
    case). The whole term is one value: "ann@example.com:1" is not split into words.
    (``search_fields`` must still name the fields: the admin shows its box when it is set.)"""

    search_exact_fields: tuple[str, ...] = ()
    search_prefix_fields: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q()
        for name in self.search_exact_fields:
            match |= Q(**{name: term})
        for name in self.search_prefix_fields:
            match |= prefix_match(queryset, name, term)
        return queryset.filter(match), False
