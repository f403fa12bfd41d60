"""`GET /restapi/v2/organizations/<organization_id>/clean_expenses`.

The query schema below validates the query string (unknown parameters are rejected,
as the platform does) and documents it in /openapi.json, with the response schema of
api/render/schemas.py. The view only wires: the question, then its one answer
(api/query/expenses_answer.py: scope, sharing, ordering, paging, rendering).
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from apiflask.fields import Integer, List, String
from apiflask.validators import OneOf, Range, Regexp
from marshmallow import RAISE

from api.catalog.cache import catalogs
from api.context import current_settings, mongodb, token_scope
from api.query.expenses_answer import CleanExpensesAnswer, ExpensesQuestion
from api.query.filters import CLEAN_EXPENSES, Filters
from api.query.metric import METRIC_FIELDS, request_metric
from api.query.paging import Page
from api.query.period import query_schema
from api.query.scope import Period
from api.query.sharing import SHARING_FIELDS, request_policy
from api.render.schemas import CleanExpensesSchema

bp = APIBlueprint("expenses", __name__, tag="expenses", url_prefix="/restapi/v2")

FORMATS = ("advanced_json", "json", "csv")
BILLING_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

# Query string of clean_expenses: the period, the filters of api/query/filters.py, then these.
CleanExpensesQuery = query_schema(
    "CleanExpensesQuery",
    CLEAN_EXPENSES,
    after={
        "limit": Integer(
            validate=Range(min=1),
            metadata={"description": "Sort by cost (desc), then keep this many; must be > 0"},
        ),
        "offset": Integer(
            load_default=0,
            validate=Range(min=0),
            metadata={"description": "Skip this many items first (paging, with limit)"},
        ),
        "billing_period": List(
            String(validate=Regexp(BILLING_PERIOD, error="must be a month, YYYY-MM")),
            metadata={
                "description": "Only the rows of these months' bills (YYYY-MM, a bill's "
                "BillingPeriodStart), on whatever day they were charged; nodes stay apart "
                "from their clusters, as the bill has them. With dates that cover its "
                "charges: exactly the invoice's total (repeatable)"
            },
        ),
        "format": String(
            load_default="advanced_json",
            validate=OneOf(FORMATS),
            metadata={"description": "advanced_json or json: this document; csv: the same rows"},
        ),
        **METRIC_FIELDS,
        **SHARING_FIELDS,
    },
)


CSV_RESPONSE = {
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "format=csv: one line per item; totals in X-Total-Count/Cost",
            }
        }
    }
}


@bp.get("/organizations/<organization_id>/clean_expenses")
@bp.input(CleanExpensesQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(CleanExpensesSchema)
@bp.doc(responses={200: CSV_RESPONSE})
def get_clean_expenses(organization_id: str, query: dict[str, Any]) -> Any:
    """Resources of the organization with their cost over the period, most expensive first."""
    database = mongodb()
    question = ExpensesQuestion(
        organization_id,
        _period(query),
        Filters.from_query(query, CLEAN_EXPENSES).within(token_scope()),
        request_metric(database, organization_id, query),
        request_policy(database, organization_id, query),
        Page.of_query(query),
        (query["start_date"], query["end_date"]),
    )
    answer = CleanExpensesAnswer.find(current_settings(), catalogs(), question)
    # JSON: the items are encoded from bytes with CleanExpenseSchema's fields and types
    # (api/render/answer.py; the schemathesis test checks every answer against the
    # schema), so they skip marshmallow's field-by-field dump, which takes longer than
    # the ClickHouse query for thousands of items.
    return answer.csv() if query["format"] == "csv" else answer.json()


def _period(query: dict[str, Any]) -> Period:
    """The dates, and the billing periods as YYYYMM numbers."""
    months = sorted({int(month.replace("-", "")) for month in query.get("billing_period", ())})
    return Period(query["start_date"], query["end_date"], tuple(months))
