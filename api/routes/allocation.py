"""`GET /allocation/compute` and `/allocation`: OpenCost's allocation API over our rows.

Grafana dashboards, scripts and `kubectl cost` speak OpenCost's API
(opencost.io/docs/integrations/api; the handler's parameters in opencost's
`pkg/costmodel` allocation handlers). This answers it for the token's organization
from the same k8s_allocation rows and the same query as `k8s_costs`
(api/routes/k8s_costs.py `find_groups`), one query per step: `window`, `step`,
`accumulate`, `aggregate` (several), `shareIdle`, `idleByNode`, `includeIdle`,
`filter` (api/query/ocfilter.py) and `resolution` (accepted, without effect: the
rows are already costed per day). Any other parameter is a 400 naming it, never a
silent default. The body is OpenCost's: `{"code": 200, "data": [set per step]}`,
each set the allocations by name (api/query/opencost.py); errors are our problem
documents. Sharing starts from the organization's defaults (`k8scost sharing set`),
as in k8s_costs; `shareIdle` and `idleByNode` override its idle options.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Dict, Integer, List, String
from flask import g
from marshmallow import RAISE, ValidationError

from api.context import mongodb
from api.query import ocfilter, ocwindow, opencost
from api.query.sharing import request_policy
from api.routes.k8s_costs import find_groups
from etl.core.sharing import SharingPolicy

bp = APIBlueprint("allocation", __name__, tag="allocation (OpenCost)")


def _checked(parse, *args: Any):
    def check(value: str) -> None:
        try:
            parse(value, *args)
        except (ocwindow.ParameterError, ocfilter.FilterError, opencost.AggregateError) as error:
            raise ValidationError(str(error)) from None

    return check


def _today() -> Any:
    return datetime.now(UTC).date()


def _boolean(name: str, description: str) -> String:
    return String(
        validate=_checked(ocwindow.parse_bool, name), metadata={"description": description}
    )


class AllocationQuery(Schema):
    """OpenCost's query parameters that we answer (others are a 400 naming them)."""

    window = String(
        required=True,
        validate=_checked(lambda text: ocwindow.parse_window(text, _today())),
        metadata={
            "description": "today | yesterday | week | month | lastweek | lastmonth | "
            "Nd | Nh (whole days) | start,end (RFC 3339 or Unix seconds, midnights UTC)"
        },
    )
    aggregate = String(
        validate=_checked(opencost.parse_aggregate),
        metadata={
            "description": "cluster | node | namespace | controller | pod | label:<key>,"
            " comma-separated for several; absent: pod"
        },
    )
    step = String(
        validate=_checked(ocwindow.parse_step),
        metadata={"description": "Nd | Nh | Nw: one set per step; absent: the window"},
    )
    accumulate = _boolean("accumulate", "true: one set over the whole window")
    shareIdle = _boolean("shareIdle", "true: spread idle over the allocations by cost")
    idleByNode = _boolean("idleByNode", "true: a node's idle over its own allocations")
    includeIdle = _boolean("includeIdle", "true: list __idle__ (default false, as OpenCost)")
    filter = String(
        validate=_checked(ocfilter.parse),
        metadata={
            "description": "OpenCost's filter language: cluster, node, namespace, "
            'controllerName, label[<key>] with : !: ~: !~: <~: !<~: ~>: !~>:, "+" "|" ()'
        },
    )
    resolution = String(metadata={"description": "Accepted without effect (daily rows)"})


class AllocationResponse(Schema):
    code = Integer(required=True)
    data = List(
        Dict(keys=String(), values=Dict()),
        required=True,
        metadata={"description": "One set per step: allocations by name"},
    )


def _policy(organization_id: str, query: dict[str, Any]) -> SharingPolicy:
    overrides = {}
    if "shareIdle" in query:
        overrides["share_idle"] = (
            "weighted" if ocwindow.parse_bool(query["shareIdle"], "") else "none"
        )
    if "idleByNode" in query:
        overrides["idle_by"] = "node" if ocwindow.parse_bool(query["idleByNode"], "") else "cluster"
    return request_policy(mongodb(), organization_id, overrides)


@bp.get("/allocation/compute")
@bp.get("/allocation")
@bp.input(AllocationQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(AllocationResponse)
def get_allocation(query: dict[str, Any]) -> dict[str, Any]:
    """The organization's allocation over the window, one set per step (OpenCost's shape)."""
    organization_id = g.organization_id
    window = ocwindow.parse_window(query["window"], _today())
    accumulate = ocwindow.parse_bool(query.get("accumulate", "false"), "accumulate")
    step_days = None if accumulate or "step" not in query else ocwindow.parse_step(query["step"])
    try:
        steps = window.steps(step_days)
    except ocwindow.ParameterError as error:
        detail = str(error)
        raise HTTPError(400, detail=detail, extra_data={"errors": {"step": [detail]}}) from None
    aggregate = opencost.parse_aggregate(query.get("aggregate", ""))
    wanted = ocfilter.parse(query.get("filter", ""))
    include_idle = ocwindow.parse_bool(query.get("includeIdle", "false"), "includeIdle")
    policy = _policy(organization_id, query)
    grouped_by = opencost.groupings(aggregate, wanted, include_idle)
    if policy.splits_evenly and grouped_by != aggregate:
        detail = (
            "an even split counts groups, so it cannot be answered with a filter or "
            "includeIdle=false on properties outside aggregate: add them to aggregate"
        )
        raise HTTPError(400, detail=detail, extra_data={"errors": {"filter": [detail]}})
    sets = []
    for step in steps:
        groups = find_groups(
            organization_id,
            {"start_date": step.start, "end_date": step.end - 1, "group_by": ",".join(grouped_by)},
            policy,
        )
        merged = opencost.merge(groups, grouped_by, aggregate, wanted, include_idle)
        sets.append(opencost.allocation_set(merged, aggregate, step))
    return {"code": 200, "data": sets}
