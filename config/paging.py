"""Admin lists over tables of millions of rows: pages that never count the whole table.

Django's admin counts every row its list matches (`SELECT COUNT(*)`) to number the pages. On the delivery log with
10,000,000 deliveries that count alone took a second; with a filter, PostgreSQL reads every matching row. A
LookaheadPaginator reads the page asked for and one row past it, so it knows whether a next page exists and
nothing more: the list links up to the next page, and says how many rows there are only once it reaches the
last page. An unfiltered list can say about how many rows its table holds, from PostgreSQL's statistics
(`table_estimate`). "Show all" is never offered (its count would be a guess).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import HttpRequest


def table_estimate(model: type[Model]) -> int:
    """About how many rows the model's table holds (pg_class.reltuples, kept by ANALYZE and autovacuum); a
    partitioned table's is the sum of its partitions'. 0 before the table was first analysed."""
    with connection.cursor() as cursor:
        # The leaves of its partition tree (a plain table's is itself): a partitioned table's own reltuples, once
        # analysed, already sums its partitions'.
        cursor.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_partition_tree(%s::regclass) AS t "
            "JOIN pg_class AS c ON c.oid = t.relid WHERE t.isleaf",
            [model._meta.db_table],
        )
        return int(cursor.fetchone()[0])


class LookaheadPaginator(Paginator):
    """Pages numbered up to the one asked for and the next one, if a row exists past the one asked for.

    `count` is exact on the last page (`exact`); before it, the rows up to the end of the next page's first row.
    `estimate`: about how many rows an unfiltered list has, to say so (None for a filtered list).
    """

    def __init__(self, object_list: QuerySet, per_page: int, *, page_number: int, estimate: int | None = None):
        super().__init__(object_list, per_page)
        self.page_number = max(1, page_number)
        self.estimate = estimate

    @cached_property
    def _window(self) -> list[Any]:
        offset = (self.page_number - 1) * self.per_page
        return list(self.object_list[offset : offset + self.per_page + 1])

    @cached_property
    def count(self) -> int:
        return (self.page_number - 1) * self.per_page + len(self._window)

    @property
    def exact(self) -> bool:
        return len(self._window) <= self.per_page

    @property
    def shown_up_to(self) -> int:
        """The number of the last row of the page asked for: "more than" this many, when not exact."""
        return min(self.count, self.page_number * self.per_page)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        if number == self.page_number:  # the rows are read already
            return self._get_page(self._window[: self.per_page], number, self)
        return super().page(number)


def lookahead_paginator(request: HttpRequest, queryset: QuerySet, per_page: int) -> LookaheadPaginator:
    """For ModelAdmin.get_paginator: the page the request asks for; an unfiltered list says its table's size."""
    try:
        number = int(request.GET.get(PAGE_VAR, 1))
    except ValueError:
        number = 1
    unfiltered = not queryset.query.where and not queryset.query.distinct
    estimate = table_estimate(queryset.model) if unfiltered else None
    return LookaheadPaginator(queryset, per_page, page_number=number, estimate=estimate)


class LookaheadPagingMixin:
    """A ModelAdmin whose list pages never count the whole list (see the module's docstring)."""

    show_full_result_count = False
    list_max_show_all = 0  # "Show all" would read every row

    def get_paginator(  # type: ignore[override]
        self, request: HttpRequest, queryset: QuerySet, per_page: int, orphans: int = 0, allow_empty_first_page=True
    ) -> LookaheadPaginator:
        return lookahead_paginator(request, queryset, per_page)
