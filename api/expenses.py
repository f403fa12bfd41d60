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
from apiflask.validators import OneOf, Range
from flask import Response, current_app
from marshmallow import RAISE

from api.catalog import CatalogCache
from api.clean_expenses import Period, find_clean_expenses
from api.context import current_settings
from api.export import csv_response
from api.filters import CLEAN_EXPENSES, Filters
from api.query import query_schema
from etl.costmodel.assets import COMPONENTS

bp = APIBlueprint("expenses", __name__, tag="expenses", url_prefix="/restapi/v2")

CATALOG_EXTENSION = "k8scost_catalogs"
# How long an API process trusts its copy of an organization's resource documents.
CATALOG_TTL_S = 300.0
FORMATS = ("advanced_json", "json", "csv")

# Query string of clean_expenses: the period, the filters of api/filters.py, then these.
CleanExpensesQuery = query_schema(
    "CleanExpensesQuery",
    CLEAN_EXPENSES,
    after={
        "limit": Integer(
            validate=Range(min=1),
            metadata={"description": "Sort by cost (desc), then keep this many; must be > 0"},
        ),
        "format": String(
            load_default="advanced_json",
            validate=OneOf(FORMATS),
            metadata={"description": "advanced_json or json: this document; csv: the same rows"},
        ),
    },
)


# The breakdown's fields are the table's value columns, named once in
# etl.costmodel.assets.COMPONENTS.
CleanExpenseK8sCostsSchema = Schema.from_dict(
    {column: Float(required=True) for column in COMPONENTS}, name="CleanExpenseK8sCostsSchema"
)


def _text(description: str) -> String:
    # Never null: an item leaves out a field without a value (the platform's schema
    # types these as strings), see api/catalog.py Catalog.item_base.
    return String(metadata={"description": f"{description}; absent when unknown"})


class BilledNodeSchema(Schema):
    """A cloud-bill resource that is a node of the cluster, with its bill cost folded in."""

    resource_id = String(required=True, metadata={"description": "the node VM's resource id"})
    # Not in the platform's schema (an addition of this API): null when unknown.
    cloud_resource_id = String(
        allow_none=True, metadata={"description": "the bill's resource id (instance id or ARN)"}
    )
    cloud_account_id = String(required=True, metadata={"description": "its cloud account"})
    name = String(allow_none=True, metadata={"description": "its name in the bill"})
    cost = Float(
        required=True,
        metadata={"description": "its bill cost on days the cluster has K8s costs (not in totals)"},
    )


class CleanExpenseSchema(Schema):
    """One resource with its cost for the period."""

    id = String(required=True, metadata={"description": "id of resource"})
    resource_id = String(required=True, metadata={"description": "resource id"})
    cloud_resource_id = _text("cloud-native resource id")
    resource_type = _text("resource type")
    service_name = _text("resource service name")
    region = _text("resource region")
    first_seen = Integer(metadata={"description": "first appearance timestamp"})
    last_seen = Integer(metadata={"description": "last appearance timestamp"})
    created_at = Integer(metadata={"description": "discovered timestamp"})
    deleted_at = Integer(metadata={"description": "deleted timestamp (0: not deleted)"})
    tags = Dict(keys=String(), values=Raw(), metadata={"description": "resource's tags"})
    meta = Dict(keys=String(), values=Raw(), metadata={"description": "resource metadata"})
    cost = Float(required=True, metadata={"description": "cost for the period"})
    cloud_account_id = String(required=True, metadata={"description": "cloud account id"})
    cloud_account_name = _text("cloud account name")
    cloud_account_type = _text("cloud account type")
    resource_name = _text("resource name")
    name = _text("resource name")
    k8s_costs = Nested(
        CleanExpenseK8sCostsSchema, metadata={"description": "breakdown, for K8s clusters only"}
    )
    billed_nodes = List(
        Nested(BilledNodeSchema),
        metadata={"description": "K8s clusters only: node VMs of the bill counted in the cluster"},
    )
    k8s_cluster_id = _text("bill resources only: the K8s cluster this VM is a node of")
    k8s_cluster_name = _text("bill resources only: that cluster's name")


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


def catalogs() -> CatalogCache:
    """The app's cache of organization catalogs (created on first use)."""
    return current_app.extensions.setdefault(CATALOG_EXTENSION, CatalogCache(CATALOG_TTL_S))


@bp.get("/organizations/<organization_id>/clean_expenses")
@bp.input(CleanExpensesQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(CleanExpensesSchema)
@bp.doc(responses={200: CSV_RESPONSE})
def get_clean_expenses(organization_id: str, query: dict[str, Any]) -> Any:
    """Resources of the organization with their cost over the period, most expensive first."""
    filters = Filters.from_query(query, CLEAN_EXPENSES)
    limit = query.get("limit")
    answer = find_clean_expenses(
        current_settings(),
        catalogs(),
        organization_id,
        Period(query["start_date"], query["end_date"]),
        filters,
        limit,
    )
    csv = query["format"] == "csv"
    totals: dict[str, Any] = {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "total_count": answer.total_count,
        "total_cost": answer.total_cost,
    }
    if limit is not None:
        totals["limit"] = limit
    if csv:
        return csv_response(
            {**totals, "clean_expenses": answer.items()}, f"clean_expenses_{organization_id}.csv"
        )
    # The items are encoded from bytes with CleanExpenseSchema's fields and types (built
    # in api/catalog.py and api/clean_expenses.py; the schemathesis test checks every
    # answer against the schema), so they skip marshmallow's field-by-field dump, which
    # takes longer than the ClickHouse query for thousands of items.
    return Response(answer.json_body(totals), mimetype="application/json")
