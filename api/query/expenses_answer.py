"""clean_expenses' answer: one object from the request's question to its rendering.

Its steps run once each, in this order, for every combination of options:
1. scope and filters: what the token and the filters let the request see, costed
   (api/query/clean_expenses.py);
2. sharing, when the policy shares anything (api/query/shared_expenses.py);
3. ordering: most expensive first, then resource id, then account id (`ORDER`);
4. paging: `offset` skipped, then at most `limit` (api/query/paging.py);
5. rendering: the JSON body from bytes, or the CSV (api/render/).
Without sharing, steps 3 and 4 run inside step 1's query (ClickHouse ranks by the
same key and pages with `Page.sql_parameters`), so only the page's items ever
become Python values. Sharing changes cluster costs after that query, which can
move an item across pages: step 1 then reads every item, and steps 3 and 4 run on
its Arrow columns (`ranked`). Why one object: two answer paths drifted (the sharing
one ignored `offset` and the resource id tie-break, issue #25).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response

from api.catalog.cache import CatalogCache
from api.query.clean_expenses import find_clean_expenses, ranked
from api.query.filters import Filters
from api.query.metric import reconciliation
from api.query.paging import Page
from api.query.scope import Period
from api.query.shared_expenses import shared_expenses
from api.render.answer import CleanExpenses
from api.render.csvfile import csv_response
from etl.core.config import Settings
from etl.core.sharing import SharingPolicy


@dataclass(frozen=True)
class ExpensesQuestion:
    """What one clean_expenses request asks, validated: who, when, what, how shared,
    which page, and the dates as given (they are echoed)."""

    organization_id: str
    period: Period
    filters: Filters
    metric: str
    policy: SharingPolicy
    page: Page
    dates: tuple[int, int]


@dataclass(frozen=True)
class CleanExpensesAnswer:
    """The page of items (`expenses`, ordered) and the totals of every item."""

    question: ExpensesQuestion
    expenses: CleanExpenses

    @classmethod
    def find(
        cls, settings: Settings, cache: CatalogCache, question: ExpensesQuestion
    ) -> CleanExpensesAnswer:
        """Steps 1 to 4 (the module's docstring)."""
        asked = (settings, cache, question.organization_id, question.period, question.filters)
        if not question.policy.active:
            expenses = find_clean_expenses(*asked, question.page, question.metric)
            return cls(question, expenses)
        every = find_clean_expenses(*asked, None, question.metric)
        bill = reconciliation(cache.get(settings, question.organization_id), question.metric)
        shared = shared_expenses(every, question.period, question.filters, question.policy, bill)
        return cls(question, ranked(shared, question.page))

    def fields(self) -> dict[str, Any]:
        """The answer's fields beside its items: dates, metric, totals, sharing, page."""
        start, end = self.question.dates
        found: dict[str, Any] = {
            "start_date": start,
            "end_date": end,
            "cost_metric": self.question.metric,
            "total_count": self.expenses.total_count,
            "total_cost": self.expenses.total_cost,
        }
        if self.question.policy.active:
            found["sharing"] = self.question.policy.document()
        return {**found, **self.question.page.fields()}

    def json(self) -> Response:
        """The JSON document, its items encoded from bytes (api/render/answer.py)."""
        body = self.expenses.json_body(self.fields())
        return Response(body, mimetype="application/json")

    def csv(self) -> Response:
        """The same items as CSV, the totals in headers (api/render/csvfile.py)."""
        document = {**self.fields(), "clean_expenses": self.expenses.items()}
        return csv_response(document, f"clean_expenses_{self.question.organization_id}.csv")
