"""The response schemas of clean_expenses and k8s_costs, beside the code that renders them.

They serve three purposes: APIFlask serializes (k8s_costs) and documents both answers
in /openapi.json, and the schemathesis test checks every answer against them. Field
names and types follow the platform's own declaration (`clean_expenses.swagger.yaml`)
because its frontend reads them. clean_expenses' items are laid out from bytes
(api/render/answer.py) with these fields and types, skipping marshmallow's dump;
tests/unit/test_render.py checks the rendered keys against `CleanExpenseSchema`.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, Raw, String

from etl.costmodel.assets import COMPONENTS

# The breakdown's fields are the table's value columns, named once in
# etl.costmodel.assets.COMPONENTS.
CleanExpenseK8sCostsSchema = Schema.from_dict(
    {column: Float(required=True) for column in COMPONENTS}, name="CleanExpenseK8sCostsSchema"
)


def _text(description: str) -> String:
    # Never null: an item leaves out a field without a value (the platform's schema
    # types these as strings), see api/render/items.py item_base.
    return String(metadata={"description": f"{description}; absent when unknown"})


class SharedPartsSchema(Schema):
    """With sharing (api/query/sharing.py): the dollars received by each rule; `cost` is
    the components (what the group keeps of its own rows) plus these."""

    idle = Float(required=True, metadata={"description": "its part of `__idle__` (share_idle)"})
    namespaces = Float(
        required=True,
        metadata={"description": "its part of share_namespaces' and share_labels' rows"},
    )
    overhead = Float(required=True, metadata={"description": "its part of shared_overhead_hourly"})


class SharingSchema(Schema):
    """The sharing applied: the request's parameters over the organization's defaults."""

    share_idle = String(required=True)
    idle_by = String(required=True)
    share_namespaces = List(String(), required=True)
    share_labels = List(String(), required=True)
    share_split = String(required=True)
    shared_overhead_hourly = Float(required=True)


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


class ReconciliationSchema(Schema):
    """What pricing the cluster's nodes and PVs from the bill changed over the period (docs/api.md,
    "Reconciliation: nodes priced from the bill"): its cost is the exporter's plus
    `adjustment`."""

    cost_metric = String(required=True, metadata={"description": "the metric the bill was read in"})
    matched_node_days = Integer(
        required=True,
        metadata={"description": "node-days whose VM the bill prices (0 under list)"},
    )
    matched_nodes = Integer(required=True, metadata={"description": "distinct nodes among them"})
    matched_volume_days = Integer(
        required=True,
        metadata={"description": "PV-days whose disk the bill prices (0 under list)"},
    )
    matched_volumes = Integer(required=True, metadata={"description": "distinct PVs among them"})
    list_cost = Float(
        required=True,
        metadata={"description": "the exporter's price of those node-days and PV-days"},
    )
    bill_cost = Float(
        required=True, metadata={"description": "the bill's cost of their VMs and disks"}
    )
    adjustment = Float(
        required=True, metadata={"description": "bill_cost - list_cost: added to the cluster"}
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
    shared = Nested(
        SharedPartsSchema,
        metadata={"description": "K8s clusters, with sharing only: what each rule added"},
    )
    reconciliation = Nested(
        ReconciliationSchema,
        metadata={
            "description": "K8s clusters, without allocation filters: their nodes priced "
            "from the bill"
        },
    )
    k8s_cluster_id = _text("bill resources only: the K8s cluster this VM is a node of")
    k8s_cluster_name = _text("bill resources only: that cluster's name")


def cost_metric_field() -> String:
    """An answer's `cost_metric`: the cost it sums (api/query/metric.py)."""
    return String(
        required=True, metadata={"description": "the cost summed: billed, effective or list"}
    )


class CleanExpensesSchema(Schema):
    """The response of clean_expenses."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    total_count = Integer(
        required=True, metadata={"description": "resources matched, before limit"}
    )
    total_cost = Float(required=True, metadata={"description": "their cost, before limit"})
    cost_metric = cost_metric_field()
    clean_expenses = List(Nested(CleanExpenseSchema), required=True)
    limit = Integer(metadata={"description": "the limit applied, when one was given"})
    offset = Integer(metadata={"description": "the items skipped, when some were"})
    sharing = Nested(
        SharingSchema, metadata={"description": "with sharing only: the sharing applied"}
    )


COST_FIELDS = {column: Float(required=True) for column in (*COMPONENTS, "cost")}
# Beside a group's cost priced from the bill, its exporter's figure (docs/api.md,
# "Reconciliation: nodes priced from the bill").
LIST_COST_FIELD = {
    "list_cost": Float(
        metadata={
            "description": "without sharing: the exporter's (list) cost of the rows, before "
            "their nodes were priced from the bill"
        }
    )
}


def _shared() -> Nested:
    return Nested(
        SharedPartsSchema, metadata={"description": "with sharing only: what each rule added"}
    )


K8sCostTotalsSchema = Schema.from_dict(
    {**COST_FIELDS, **LIST_COST_FIELD, "shared": _shared()}, name="K8sCostTotalsSchema"
)
K8sCostGroupSchema = Schema.from_dict(
    {
        "key": String(required=True, metadata={"description": "the group's name"}),
        "pod_uid": String(metadata={"description": "with group_by=pod: the pod's uid"}),
        **COST_FIELDS,
        **LIST_COST_FIELD,
        "shared": _shared(),
        "cpu_efficiency": Float(
            required=True,
            allow_none=True,
            metadata={"description": "used / requested core-hours; null without usage data"},
        ),
        "ram_efficiency": Float(
            required=True,
            allow_none=True,
            metadata={"description": "used / requested byte-hours; null without usage data"},
        ),
        "total_efficiency": Float(
            required=True,
            allow_none=True,
            metadata={"description": "cpu and ram efficiency weighted by their cost; or null"},
        ),
    },
    name="K8sCostGroupSchema",
)


class K8sCostGroupsSchema(Schema):
    """The response of k8s_costs."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    group_by = String(required=True)
    cost_metric = cost_metric_field()
    total_count = Integer(required=True, metadata={"description": "groups, before limit"})
    total_cost = Float(required=True, metadata={"description": "their cost, before limit"})
    totals = Nested(K8sCostTotalsSchema, required=True)
    groups = List(Nested(K8sCostGroupSchema), required=True)
    limit = Integer(metadata={"description": "the limit applied, when one was given"})
    sharing = Nested(
        SharingSchema, metadata={"description": "with sharing only: the sharing applied"}
    )
    step = String(metadata={"description": "with step: the step of `series`"})
    series = Dict(
        keys=String(),
        values=Dict(keys=String(), values=Float()),
        metadata={
            "description": "with step: {bucket start (Unix seconds, midnight UTC): {group key: "
            "cost}}; with limit, the groups left out add up under __other__"
        },
    )


class BreakdownCostSchema(Schema):
    """One key's cost on one day."""

    cost = Float(required=True)


class BreakdownCountSchema(Schema):
    """One key's totals over the period and over the previous period of the same length."""

    total = Float(required=True, metadata={"description": "its cost over the period"})
    previous_total = Float(
        required=True, metadata={"description": "its cost over the previous period"}
    )
    name = String(metadata={"description": "breakdown_by=cloud_account_id: the account's name"})
    type = String(metadata={"description": "breakdown_by=cloud_account_id: the account's type"})


class BreakdownExpensesSchema(Schema):
    """The response of breakdown_expenses: the cost of each day per key, and the totals."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    previous_start_date = Integer(
        required=True, metadata={"description": "start of the previous period (same length)"}
    )
    previous_end_date = Integer(
        required=True, metadata={"description": "its end: the second before start_date"}
    )
    breakdown_by = String(required=True)
    cost_metric = cost_metric_field()
    breakdown = Dict(
        keys=String(metadata={"description": "a day: Unix seconds of its midnight UTC"}),
        values=Dict(keys=String(), values=Nested(BreakdownCostSchema)),
        required=True,
        metadata={"description": "day -> key -> {cost}; days with costs only"},
    )
    counts = Dict(
        keys=String(),
        values=Nested(BreakdownCountSchema),
        required=True,
        metadata={"description": "key -> its totals; `null`: resources without the field"},
    )
    total = Float(required=True, metadata={"description": "the period's cost"})
    previous_total = Float(required=True, metadata={"description": "the previous period's cost"})
