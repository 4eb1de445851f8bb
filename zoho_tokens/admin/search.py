"""Search that an index serves: exact ids and tenants, or the start of a user name.

Django's default search (``icontains`` on every field, ``LIKE '%…%'``) reads the whole table
on every search; these lookups are index range reads (``ZohoToken``'s and
``TokenAuditEvent``'s indexes, with an ``UPPER()`` index for the prefix on PostgreSQL).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest


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
            match |= Q(**{f"{name}__istartswith": term})
        return queryset.filter(match), False
