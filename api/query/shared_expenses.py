"""clean_expenses with sharing: each cluster item costed as its shared groups.

Spreading idle or a shared namespace moves cost between a cluster's groups, so a
whole cluster's cost only grows by its overhead; with an allocation filter
(`k8s_namespace`...) a cluster item is the filtered groups' cost *with* the parts
they receive of the cluster's shared costs, as `k8s_costs` reports them
(sql/queries/k8s_costs_shared.sql, per cluster, read by etl/storage/expensereads.py).
Either way the cluster item gains `shared` ({idle, namespaces, overhead}), its
`k8s_costs` is what it keeps of its own rows, and `cost` is their sum. Bill
resources are unchanged. This is the sharing step of the answer
(api/query/expenses_answer.py): it runs on every item, before ordering and paging,
since a changed cost can move an item across pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from api.context import clickhouse
from api.query.clean_expenses import cluster_rows
from api.query.filters import Filters
from api.query.scope import Period
from api.render.answer import CleanExpenses
from api.render.clusterparts import SHARED_PARTS
from etl.core.components import COMPONENTS
from etl.core.sharing import SharingPolicy
from etl.storage.expensereads import shared_cluster_sums

SHARED_COLUMNS = tuple(f"shared_{part}" for part in SHARED_PARTS)


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
    rows = cluster_rows(account_ids, period, filters, bill)
    with clickhouse() as client:
        sums = shared_cluster_sums(client, rows, policy, (*COMPONENTS, *SHARED_COLUMNS, "own_cost"))
    return {
        account: {
            "k8s_costs": {column: values[column] for column in COMPONENTS},
            "shared": {part: values[f"shared_{part}"] for part in SHARED_PARTS},
            "cost": values["own_cost"] + sum(values[column] for column in SHARED_COLUMNS),
        }
        for account, values in sums.items()
    }


def shared_expenses(
    expenses: CleanExpenses,
    period: Period,
    filters: Filters,
    policy: SharingPolicy,
    bill: Mapping[str, Any],
) -> CleanExpenses:
    """`expenses` with their clusters costed with `policy`, and the total changed by as
    much; items keep their places (ordering comes after)."""
    clusters = expenses.clusters
    accounts = expenses.cloud_account_ids.take(pa.array(clusters.positions)).to_pylist()
    costs = shared_cluster_costs(sorted(set(accounts)), period, filters, policy, bill)
    found = [costs.get(account) for account in accounts]
    item_costs = expenses.costs.to_pylist()
    breakdowns = clusters.breakdown.to_pylist()
    change = 0.0
    for index, (position, cluster) in enumerate(zip(clusters.positions, found, strict=True)):
        if cluster is not None:
            change += cluster["cost"] - item_costs[position]
            item_costs[position] = cluster["cost"]
            breakdowns[index] = cluster["k8s_costs"]
    parts = pa.table(
        {
            part: pa.array([None if f is None else f["shared"][part] for f in found], pa.float64())
            for part in SHARED_PARTS
        }
    )
    breakdown = pa.Table.from_pylist(breakdowns, schema=clusters.breakdown.schema)
    return replace(
        expenses,
        costs=pa.array(item_costs, pa.float64()),
        total_cost=expenses.total_cost + change,
        clusters=replace(clusters, breakdown=breakdown, shared=parts),
    )
