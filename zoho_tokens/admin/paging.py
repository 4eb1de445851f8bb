"""Pages of big tables without a full ``COUNT(*)``: an exact count up to a cap, else an estimate.

A changelist of a million audit rows spent most of its time counting them (and the last page
read a million rows to skip them). Here the count is exact while it is small (one bounded
``COUNT`` over at most ``EXACT_UP_TO + 1`` index entries); past that it is PostgreSQL's
planner estimate (``EXPLAIN``, no rows read; other backends count exactly), and the pages
stop at ``EXACT_UP_TO`` rows: the way to an old row is a filter or a search, which the
indexes serve, not page 10,000.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

#: Rows counted exactly (and reachable by paging) before the count becomes an estimate.
EXACT_UP_TO = 10_000


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate for ``queryset`` on PostgreSQL (None elsewhere)."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTablePaginator(Paginator):
    """Exact count up to ``EXACT_UP_TO`` rows; beyond, an estimate and a page limit."""

    exact_up_to = EXACT_UP_TO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        capped = queryset.order_by()[: self.exact_up_to + 1].count()
        if capped <= self.exact_up_to:
            return capped
        estimate = estimated_count(queryset)
        if estimate is None:
            return queryset.count()
        self.estimated = True
        return max(estimate, capped)

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        if self.estimated:
            return min(pages, max(1, math.ceil(self.exact_up_to / self.per_page)))
        return pages
