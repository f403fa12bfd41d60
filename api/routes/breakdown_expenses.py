"""`GET /restapi/v2/organizations/<organization_id>/breakdown_expenses`: daily series.

The dashboard's charts read it (api/ui/): the cost of each day of the period per
`breakdown_by` key (cloud account, service, resource type, region, or a cluster's cost
component), with each key's total over the period and over the previous period of
the same length, in the shape of the platform's endpoint of that name. It takes the
filters of clean_expenses (api/query/filters.py `BREAKDOWN_EXPENSES`) and counts the
same way (api/query/breakdown.py), so a day's buckets add up to clean_expenses'
total for that day. The schemas validate the query (unknown parameters: a 400
problem), serialize the answer and document both in /openapi.json.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from apiflask.fields import String
from apiflask.validators import OneOf
from marshmallow import RAISE

from api.catalog.cache import catalogs
from api.context import current_settings, mongodb, token_scope
from api.query.breakdown import BREAKDOWNS, Breakdown, find_breakdown, previous_period
from api.query.filters import BREAKDOWN_EXPENSES, Filters
from api.query.metric import METRIC_FIELDS, request_metric
from api.query.period import query_schema
from api.query.scope import Period
from api.render.schemas import BreakdownExpensesSchema

bp = APIBlueprint("breakdown", __name__, tag="expenses", url_prefix="/restapi/v2")

BreakdownExpensesQuery = query_schema(
    "BreakdownExpensesQuery",
    BREAKDOWN_EXPENSES,
    before={
        "breakdown_by": String(
            required=True,
            validate=OneOf(BREAKDOWNS),
            metadata={"description": " | ".join(BREAKDOWNS)},
        )
    },
    after=METRIC_FIELDS,
)


def _counts(answer: Breakdown, accounts: dict[str, dict[str, Any]], by: str) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for key in answer.ordered_keys():
        count: dict[str, Any] = {
            "total": answer.totals.get(key, 0.0),
            "previous_total": answer.previous_totals.get(key, 0.0),
        }
        if by == "cloud_account_id" and key in accounts:
            count.update(
                {f: accounts[key][f] for f in ("name", "type") if accounts[key].get(f) is not None}
            )
        counts[key] = count
    return counts


@bp.get("/organizations/<organization_id>/breakdown_expenses")
@bp.input(BreakdownExpensesQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(BreakdownExpensesSchema)
def get_breakdown_expenses(organization_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """The organization's cost per day and per key over the period, with the totals."""
    period = Period(query["start_date"], query["end_date"])
    by = query["breakdown_by"]
    metric = request_metric(mongodb(), organization_id, query)
    answer, catalog = find_breakdown(
        current_settings(),
        catalogs(),
        organization_id,
        period,
        Filters.from_query(query, BREAKDOWN_EXPENSES).within(token_scope()),
        by,
        metric,
    )
    previous = previous_period(period)
    return {
        "start_date": period.start,
        "end_date": period.end,
        "previous_start_date": previous.start,
        "previous_end_date": previous.end,
        "breakdown_by": by,
        "cost_metric": metric,
        "breakdown": {
            str(day): {key: {"cost": cost} for key, cost in sorted(bucket.items())}
            for day, bucket in sorted(answer.days.items())
        },
        "counts": _counts(answer, catalog.accounts, by),
        "total": answer.total,
        "previous_total": answer.previous_total,
    }
