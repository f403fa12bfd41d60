"""`GET /restapi/v2/organizations/<organization_id>/k8s_costs`: the allocation, grouped.

Which team and which workload spends what: the organization's cluster-days over a
period, grouped by namespace, controller, pod, node or a label (`label:<key>`, the
pod's label, else its namespace's), optionally filtered (api/query/filters.py `K8S_COSTS`)
on cloud accounts, namespaces, nodes, controllers (`Kind/name`), Services (the pods
they select and their load balancer's `__unmounted__` row) and labels (`key:value`,
all must match): `k8s_namespace`, `k8s_node`, `k8s_controller`, `k8s_service`,
`k8s_label` as in clean_expenses, or their older names `namespace`, `node`,
`controller`, `service`, `label`. Each group has its cost and every component, most
expensive first, and the totals cover every group (before `limit`). `__idle__` (node
capacity no pod used) and `__unmounted__` (PVs and load balancers no pod used) stay
visible, so that without filters the totals are the clusters' costs in `clean_expenses`
(under `billed` and `effective` with the nodes and PVs a bill prices priced from it,
on both sides by one rule: docs/api.md, "Reconciliation: nodes priced from the bill";
each group keeps its exporter's figure as `list_cost`).
With sharing (etl/core/sharing.py: `share_idle`, `idle_by`, `share_namespaces`,
`share_labels`, `share_split`, `shared_overhead_hourly`, over the organization's
defaults) the groups come from sql/queries/k8s_costs_shared.sql (read by
etl/storage/k8scostreads.py) and each carries `shared`; without any, the unshared
query answers as before. Every group has its
efficiencies (api/query/efficiency.py). With `step` (day | week | month) the answer
adds `series`, each group's cost per bucket (api/query/series.py), from the same query
grouped per day; with `limit`, the groups left out add up under `__other__`. The
schemas validate the query string
(unknown parameters are a 400 problem), serialize the answer and document both in
/openapi.json.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import OneOf, Range
from marshmallow import RAISE, ValidationError

from api.catalog.cache import catalogs
from api.context import clickhouse, current_settings, mongodb, token_scope
from api.query.efficiency import USAGE_SUMS, efficiency
from api.query.filters import K8S_COSTS, Filters
from api.query.metric import METRIC_FIELDS, reconciliation, request_metric
from api.query.paging import Page
from api.query.parallel import both
from api.query.period import query_schema
from api.query.series import STEPS, by_day, series
from api.query.sharing import SHARING_FIELDS, request_policy
from api.render.schemas import COST_FIELDS, K8sCostGroupsSchema
from etl.core.exactsum import exact_sum
from etl.core.sharing import SharingPolicy
from etl.storage.k8scostreads import cost_group_rows

bp = APIBlueprint("k8s_costs", __name__, tag="k8s_costs", url_prefix="/restapi/v2")

GROUPS = ("namespace", "controller", "pod", "node", "cluster")
LABEL_GROUP = "label:"
# What _known_group accepts, as the OpenAPI document states it.
GROUP_PATTERN = f"^(?:{'|'.join(GROUPS)}|{LABEL_GROUP}.+)$"


def _known_group(value: str) -> None:
    if value not in GROUPS and not (value.startswith(LABEL_GROUP) and value[len(LABEL_GROUP) :]):
        raise ValidationError(f"group_by must be one of {', '.join(GROUPS)} or label:<key>")


# Query string of k8s_costs: the period, group_by, the filters of api/query/filters.py
# (`k8s_namespace`... and their older names `namespace`...), then limit.
K8sCostsQuery = query_schema(
    "K8sCostsQuery",
    K8S_COSTS,
    before={
        "group_by": String(
            load_default="namespace",
            validate=_known_group,
            metadata={
                "description": "namespace | controller | pod | node | cluster | label:<key>",
                "pattern": GROUP_PATTERN,
            },
        )
    },
    after={
        "limit": Integer(
            validate=Range(min=1), metadata={"description": "Keep the most expensive groups"}
        ),
        "step": String(
            validate=OneOf(STEPS),
            metadata={
                "description": "Add `series`, each group's cost per day | week (from Monday) "
                "| month (from the 1st), UTC; with limit, the others as __other__",
                "enum": list(STEPS),
            },
        ),
        **METRIC_FIELDS,
        **SHARING_FIELDS,
    },
)


def _parameters(account_ids: list[str], query: dict[str, Any], filters: Filters) -> dict[str, Any]:
    return {
        "cloud_account_ids": account_ids,
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "group_by": query["group_by"],
        **filters.sql_parameters(K8S_COSTS),
    }


SHARED_PARTS = ("idle", "namespaces", "overhead")


def shared_group(row: dict[str, Any]) -> dict[str, Any]:
    """A row of k8s_costs_shared.sql as a group: its kept components, `shared` (the
    dollars it received by each rule) and `cost`, their sum."""
    shared = {part: row[f"shared_{part}"] for part in SHARED_PARTS}
    components = {c: row[c] for c in COST_FIELDS if c != "cost"}
    return {**components, "cost": row["own_cost"] + sum(shared.values()), "shared": shared}


def find_groups(
    organization_id: str, query: dict[str, Any], policy: SharingPolicy | None = None
) -> list[dict[str, Any]]:
    """The groups of the organization's allocation for `query` within the request token's
    scope, most expensive first, with shared costs spread as `policy` says (None: the
    query's and the organization's). Each carries its usage sums (`usage`, not in the
    answer) so that groups merged later (the allocation API) recompute efficiencies."""
    database = mongodb()
    if policy is None:
        policy = request_policy(database, organization_id, query)
    filters = Filters.from_query(query, K8S_COSTS).within(token_scope())
    # The cluster accounts from the catalog: montydb scans every account document for them.
    catalog = catalogs().get(current_settings(), organization_id)
    account_ids = catalog.k8s_accounts(filters.accounts())
    if not account_ids:
        return []
    parameters = _parameters(account_ids, query, filters) | reconciliation(
        catalog, request_metric(database, organization_id, query)
    )
    with clickhouse() as client:
        groups = []
        for row in cost_group_rows(client, parameters, policy):
            parts = (
                shared_group(row)
                if policy.active
                else {c: row[c] for c in (*COST_FIELDS, "list_cost")}
            )
            group = {"key": row["group_key"], **parts}
            group.update(efficiency(row, group["cpu_cost"], group["ram_cost"]))
            group["usage"] = {name: row[name] for name in USAGE_SUMS}  # not in the answer
            if row["group_pod_uid"]:
                group["pod_uid"] = row["group_pod_uid"]
            groups.append(group)
    return groups


def group_totals(groups: list[dict[str, Any]], policy: SharingPolicy) -> dict[str, Any]:
    """The totals of every group: each cost field, then what sharing added (shared) or,
    unshared, the exporter's figure beside the bill's (list_cost). One rule for the
    answer and the showback reports' manifests, so a report's totals are the API's;
    each summed exactly (etl/core/exactsum.py), in any order to the same bits."""
    totals: dict[str, Any] = {
        column: exact_sum(group[column] for group in groups) for column in COST_FIELDS
    }
    if policy.active:
        totals["shared"] = {
            part: exact_sum(group["shared"][part] for group in groups) for part in SHARED_PARTS
        }
    else:
        totals["list_cost"] = exact_sum(group["list_cost"] for group in groups)
    return totals


@bp.get("/organizations/<organization_id>/k8s_costs")
@bp.input(K8sCostsQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(K8sCostGroupsSchema)
def get_k8s_costs(organization_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """The organization's K8s costs over the period per group, most expensive first."""
    database = mongodb()
    policy = request_policy(database, organization_id, query)
    step = query.get("step")
    if step is None:
        groups, per_day = find_groups(organization_id, query, policy), []
    else:  # the groups and their days: two reads side by side (api/query/parallel.py)
        groups, per_day = both(
            lambda: find_groups(organization_id, query, policy),
            lambda: find_groups(
                organization_id, {**query, "group_by": by_day(query["group_by"])}, policy
            ),
        )
    totals = group_totals(groups, policy)
    body: dict[str, Any] = {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "group_by": query["group_by"],
        # Nodes priced from the bill in it (docs/api.md, "Reconciliation: nodes priced
        # from the bill"); under `list`, the exporter's price.
        "cost_metric": request_metric(database, organization_id, query),
        "total_count": len(groups),
        "total_cost": totals["cost"],
        "totals": totals,
    }
    if policy.active:
        body["sharing"] = policy.document()
    paging = Page.of_query(query)
    groups = paging.of(groups)
    body.update(paging.fields())
    body["groups"] = groups
    if step is not None:
        kept = {group["key"] for group in groups} if paging.limit is not None else None
        body["step"] = step
        body["series"] = series(per_day, step, kept)
    return body
