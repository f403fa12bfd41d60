"""clean_expenses with sharing: each cluster item costed as its shared groups.

Spreading idle or a shared namespace moves cost between a cluster's groups, so a
whole cluster's cost only grows by its overhead; with an allocation filter
(`k8s_namespace`...) a cluster item is the filtered groups' cost *with* the parts
they receive of the cluster's shared costs, as `k8s_costs` reports them
(sql/queries/k8s_costs_shared.sql, per cluster). Either way the cluster item gains
`shared` ({idle, namespaces, overhead}), its `k8s_costs` is what it keeps of its own
rows, and `cost` is their sum. Bill resources are unchanged. Items are re-ranked
after the change, and `limit` cuts after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from api.context import clickhouse
from api.query.filters import CLEAN_EXPENSES, Filters
from api.query.scope import Period
from etl.core.components import COMPONENTS
from etl.core.sharing import SharingPolicy
from etl.storage import sqlfiles

PARTS = ("idle", "namespaces", "overhead")


def shared_cluster_costs(
    account_ids: list[str],
    period: Period,
    filters: Filters,
    policy: SharingPolicy,
    bill: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """Per cluster account: its kept components, `shared` parts and `cost`, with its nodes
    priced from the bill by `bill` (api/query/metric.py: reconciliation)."""
    if not account_ids:
        return {}
    parameters = {
        "cloud_account_ids": account_ids,
        "start_date": period.start,
        "end_date": period.end,
        "group_by": "namespace",
        "controllers": [],
        "label_keys": [],
        "label_values": [],
        **filters.sql_parameters(CLEAN_EXPENSES),
        **policy.sql_parameters(),
        **bill,
        "per_cluster": 1,
    }
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with clickhouse() as client:
        query = sqlfiles.query("k8s_costs_shared")
        for row in client.query(query, parameters=parameters).named_results():
            cluster = sums[row["cloud_account_id"]]
            for column in (*COMPONENTS, *(f"shared_{part}" for part in PARTS), "own_cost"):
                cluster[column] += row[column]
    return {
        account: {
            "k8s_costs": {column: values[column] for column in COMPONENTS},
            "shared": {part: values[f"shared_{part}"] for part in PARTS},
            "cost": values["own_cost"] + sum(values[f"shared_{part}"] for part in PARTS),
        }
        for account, values in sums.items()
    }


def share_items(
    items: list[dict[str, Any]], costs: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], float]:
    """The items with their clusters costed from `costs`, most expensive first, and how
    much the total changed."""
    change = 0.0
    shared = []
    for item in items:
        cluster = costs.get(item["cloud_account_id"]) if "k8s_costs" in item else None
        if cluster is not None:
            change += cluster["cost"] - item["cost"]
            item = {**item, **cluster}
        shared.append(item)
    # clean_expenses' order (sql/queries/clean_expenses_costs.sql): cost, then the ids.
    shared.sort(key=lambda item: (-item["cost"], item["resource_id"], item["cloud_account_id"]))
    return shared, change
