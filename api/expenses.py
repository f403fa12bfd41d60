"""`GET /restapi/v2/organizations/<organization_id>/clean_expenses`.

The query and response schemas below are declared once and serve three
purposes: APIFlask validates the query string with them (unknown parameters are
rejected, as the platform does), serializes the response, and documents both in
/openapi.json. Field names and types follow the platform's own declaration
(`clean_expenses.swagger.yaml`) because its frontend reads them.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Range
from marshmallow import RAISE, ValidationError, validates_schema

from api.clean_expenses import Period, find_clean_expenses
from api.context import current_settings
from etl.costs import COMPONENTS

bp = APIBlueprint("expenses", __name__, tag="expenses", url_prefix="/restapi/v2")

# ClickHouse `DateTime` holds Unix seconds as UInt32.
MAX_UNIX_SECONDS = 2**32 - 1


def _unix_seconds(description: str) -> Integer:
    return Integer(
        required=True,
        validate=Range(min=0, max=MAX_UNIX_SECONDS),
        metadata={"description": description, "example": 1643673600},
    )


class CleanExpensesQuery(Schema):
    """Query string of clean_expenses."""

    class Meta:
        unknown = RAISE

    start_date = _unix_seconds("Start of the period, Unix seconds")
    end_date = _unix_seconds(
        "End of the period, Unix seconds; days whose midnight UTC is <= end_date are included"
    )
    cloud_account_id = List(
        String(), metadata={"description": "Only these cloud accounts (repeatable)"}
    )
    limit = Integer(
        validate=Range(min=1),
        metadata={"description": "Sort by cost (desc), then keep this many; must be > 0"},
    )

    @validates_schema
    def _end_not_before_start(self, data: dict[str, Any], **_: Any) -> None:
        if data["end_date"] < data["start_date"]:
            raise ValidationError(
                "end_date must be greater than or equal to start_date", "end_date"
            )


# The breakdown's fields are the table's value columns, named once in etl.costs.COMPONENTS.
K8sCostsSchema = Schema.from_dict(
    {column: Float(required=True) for column in COMPONENTS}, name="K8sCostsSchema"
)


class CleanExpenseSchema(Schema):
    """One resource with its cost for the period."""

    id = String(required=True, metadata={"description": "id of resource"})
    resource_id = String(required=True, metadata={"description": "resource id"})
    cloud_resource_id = String(metadata={"description": "cloud-native resource id"})
    resource_type = String(metadata={"description": "resource type"})
    service_name = String(metadata={"description": "resource service name"})
    region = String(allow_none=True, metadata={"description": "resource region"})
    first_seen = Integer(metadata={"description": "first appearance timestamp"})
    last_seen = Integer(metadata={"description": "last appearance timestamp"})
    created_at = Integer(metadata={"description": "discovered timestamp"})
    deleted_at = Integer(metadata={"description": "deleted timestamp (0: not deleted)"})
    tags = Dict(keys=String(), values=Raw(), metadata={"description": "resource's tags"})
    meta = Dict(keys=String(), values=Raw(), metadata={"description": "resource metadata"})
    cost = Float(required=True, metadata={"description": "cost for the period"})
    cloud_account_id = String(required=True, metadata={"description": "cloud account id"})
    cloud_account_name = String(metadata={"description": "cloud account name"})
    cloud_account_type = String(metadata={"description": "cloud account type"})
    resource_name = String(allow_none=True, metadata={"description": "resource name"})
    name = String(allow_none=True, metadata={"description": "resource name"})
    k8s_costs = Nested(K8sCostsSchema, metadata={"description": "breakdown, for K8s clusters only"})


class CleanExpensesSchema(Schema):
    """The response of clean_expenses."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    total_count = Integer(
        required=True, metadata={"description": "resources matched, before limit"}
    )
    total_cost = Float(required=True, metadata={"description": "their cost, before limit"})
    clean_expenses = List(Nested(CleanExpenseSchema), required=True)
    limit = Integer(metadata={"description": "the limit applied, when one was given"})


@bp.get("/organizations/<organization_id>/clean_expenses")
@bp.input(CleanExpensesQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(CleanExpensesSchema)
def get_clean_expenses(organization_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """Resources of the organization with their cost over the period, most expensive first."""
    items = find_clean_expenses(
        current_settings(),
        organization_id,
        Period(query["start_date"], query["end_date"]),
        query.get("cloud_account_id"),
    )
    body: dict[str, Any] = {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "total_count": len(items),
        "total_cost": sum(item["cost"] for item in items),
    }
    limit = query.get("limit")
    if limit is not None:
        items = items[:limit]
        body["limit"] = limit
    body["clean_expenses"] = items
    return body
