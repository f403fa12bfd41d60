"""`GET /restapi/v2/organizations/<organization_id>/bills`: the cloud bills as bills.

Per cloud account and billing period (each month the period's days fall in), the
items the bill charged and its billed, effective and list totals, whatever day the
rows were charged (clean_expenses with that `billing_period` over every day, summed
per account, in each metric); and the clusters whose nodes' bill costs were folded
into them over the period, with those nodes (clean_expenses' `billed_nodes`, in the
request's cost metric). Found by api/query/bills.py in two reads, where the bills
page used to list every item of the organization per month and metric.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, Nested, String
from flask import Response
from marshmallow import RAISE

from api.catalog.cache import catalogs
from api.context import current_settings, mongodb, token_scope
from api.query.bills import find_bills
from api.query.filters import BILLS, Filters
from api.query.metric import METRIC_FIELDS, request_metric
from api.query.period import query_schema
from api.query.scope import Period
from api.render.finite import finite_response
from api.render.schemas import BilledNodeSchema, ReconciliationSchema, cost_metric_field

bp = APIBlueprint("bills", __name__, tag="expenses", url_prefix="/restapi/v2")

BillsQuery = query_schema("BillsQuery", BILLS, after=METRIC_FIELDS)


class TotalsSchema(Schema):
    """A bill's (or all bills') cost in each metric (docs/api.md, "Cost metrics")."""

    billed_cost = Float(required=True, metadata={"description": "FOCUS BilledCost summed"})
    effective_cost = Float(required=True, metadata={"description": "FOCUS EffectiveCost summed"})
    list_cost = Float(required=True, metadata={"description": "FOCUS ListCost summed"})


class BillSchema(TotalsSchema):
    """One cloud account's bill for one billing period."""

    cloud_account_id = String(required=True)
    cloud_account_name = String(allow_none=True)
    cloud_account_type = String(allow_none=True)
    billing_period = String(required=True, metadata={"description": "YYYY-MM"})
    item_count = Integer(required=True, metadata={"description": "resources it charged"})


class FoldedClusterSchema(Schema):
    """A K8s cluster and the bill's node VMs folded into it over the period, with the
    reconciliation of its nodes to the bill when there is one (clean_expenses' fields)."""

    resource_id = String(required=True, metadata={"description": "the cluster's resource id"})
    cloud_account_id = String(required=True)
    name = String(allow_none=True)
    billed_nodes = List(Nested(BilledNodeSchema), required=True)
    reconciliation = Nested(
        ReconciliationSchema,
        metadata={"description": "its nodes priced from the bill (not under `list`)"},
    )


class BillsSchema(Schema):
    start_date = Integer(required=True)
    end_date = Integer(required=True)
    cost_metric = cost_metric_field()
    billing_periods = List(
        String(), required=True, metadata={"description": "the months of the period (YYYY-MM)"}
    )
    bills = List(Nested(BillSchema), required=True)
    totals = Nested(TotalsSchema, required=True)
    clusters = List(
        Nested(FoldedClusterSchema),
        required=True,
        metadata={"description": "billed_nodes in cost_metric: each cluster that has any"},
    )


@bp.get("/organizations/<organization_id>/bills")
@bp.input(BillsQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(BillsSchema)
def get_bills(organization_id: str, query: dict[str, Any]) -> Response:
    """Each account's bill per billing period of the period, and the folded node VMs.

    Encoded as it is, without marshmallow's dump: the answer is built with
    BillsSchema's fields and types (api/query/bills.py; tests/unit/restapi/
    test_api_billed_nodes.py holds it to the schema's dump, the schemathesis test to
    the schema), and dumping thousands of folded nodes field by field took longer
    than the queries; its clusters are laid out as JSON by Arrow compute."""
    metric = request_metric(mongodb(), organization_id, query)
    answer = find_bills(
        current_settings(),
        catalogs(),
        organization_id,
        Period(query["start_date"], query["end_date"]),
        Filters.from_query(query, BILLS).within(token_scope()),
        metric,
    )
    document = {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "cost_metric": metric,
        **answer,
    }
    # As the app's JSON writes it (api/render/finite.py): a non-finite number is a 500
    # problem, not `NaN`; the clusters come encoded (api/query/bills.py folded_clusters).
    return finite_response(document)
