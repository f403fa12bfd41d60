"""What one request may see, as the ClickHouse parameters of the clean_expenses queries.

The organization's catalog decides which accounts and resources may be seen; the
attribute and tag filters of api/query/filters.py narrow them (their indexes are the
catalog's); the nodes and disks of its clusters that the answer includes are folded
into them (etl/storage/nodes.py, the double-counting rule of docs/api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.catalog.catalog import Catalog
from api.query.filters import CATALOG_FILTERS, Filters
from api.query.paging import Page
from etl.core.metrics import DEFAULT_METRIC, METRIC_COLUMNS
from etl.storage.clickhouse import StringArray
from etl.storage.nodedays import LIST_METRIC
from etl.storage.nodes import node_vm_keys
from etl.storage.registry import K8S_ACCOUNT_TYPE

# "No limit" means this many items: more than any organization has. ClickHouse's
# arraySlice reads its length as signed, so a larger limit must not reach it.
MAX_ITEMS = 2**31 - 1


@dataclass(frozen=True)
class Period:
    """Unix seconds; a day counts when its midnight-UTC row date lies in [start, end].

    `billing_periods` (YYYYMM numbers; empty: no such filter) keeps only the expense
    rows those months' bills charged (clean_expenses' `billing_period`).
    """

    start: int
    end: int
    billing_periods: tuple[int, ...] = ()


def accounts_of(catalog: Catalog, filters: Filters) -> list[str]:
    wanted = filters.accounts()
    return sorted(
        account
        for account in (catalog.accounts if wanted is None else wanted)
        if account in catalog.accounts
    )


def candidates(catalog: Catalog, accounts: list[str], filters: Filters) -> set[str] | None:
    """Ids passing the attribute filters (None: every resource of the accounts)."""
    if not filters.narrows_resources:
        return None
    every_account = len(accounts) == len(catalog.accounts)
    ids = (
        set(catalog.resources) if every_account else catalog.ids_where("cloud_account_id", accounts)
    )
    for catalog_filter in CATALOG_FILTERS:  # the attribute and tag filters (api/query/filters.py)
        values = filters.get(catalog_filter.name)
        if values:
            ids = catalog_filter.narrow(catalog, ids, values)
    return ids


def _node_pairs(
    catalog: Catalog, accounts: list[str], candidates: set[str] | None
) -> dict[str, str]:
    """Node -> cluster, for the nodes and clusters that both belong to this answer."""
    chosen = set(accounts)

    def included(resource_id: str) -> bool:
        return catalog.resources[resource_id]["cloud_account_id"] in chosen and (
            candidates is None or resource_id in candidates
        )

    return {
        node: cluster
        for node, cluster in sorted(catalog.node_clusters.items())
        if included(node) and included(cluster)
    }


@dataclass(frozen=True)
class Scope:
    """What one organization's request may see, as ClickHouse parameters.

    It depends on the catalog and the filters only, so the catalog keeps it
    (`Catalog.memo`) and a repeated request skips both the set algebra and the
    formatting of thousands of ids.
    """

    cloud_account_ids: StringArray
    resource_ids: StringArray | None  # None: every resource of the accounts
    node_ids: StringArray
    node_clusters: StringArray
    cluster_account_ids: StringArray  # the accounts of node_clusters
    k8s_account_ids: StringArray  # the kubernetes_cnr accounts: the only ones holding clusters
    # The organization's node VMs and disks folded into its clusters (whatever the
    # filters: a cluster costs the same in every answer) and their instance keys: the
    # bill arguments of the reconciliation, every reader's (api/query/metric.py).
    bill_resource_ids: StringArray
    bill_instance_keys: StringArray


def scope(catalog: Catalog, filters: Filters) -> Scope | None:
    """The request's scope; None when it sees no account at all."""
    accounts = accounts_of(catalog, filters)
    if not accounts:
        return None
    chosen = candidates(catalog, accounts, filters)
    return _scope(catalog, accounts, chosen, _node_pairs(catalog, accounts, chosen))


def folded_scope(catalog: Catalog, filters: Filters) -> Scope | None:
    """The request's scope narrowed to its clusters and the nodes folded into them: an
    answer of them alone holds every cluster's `billed_nodes` and `reconciliation` (the
    bills) without costing every other resource."""
    accounts = accounts_of(catalog, filters)
    if not accounts:
        return None
    chosen = candidates(catalog, accounts, filters)
    nodes = _node_pairs(catalog, accounts, chosen)
    clusters = {
        cluster_id
        for cluster_id, cluster in catalog.clusters.items()
        if cluster["cloud_account_id"] in accounts and (chosen is None or cluster_id in chosen)
    }
    return _scope(catalog, accounts, {*nodes, *clusters}, nodes)


def _scope(
    catalog: Catalog, accounts: list[str], chosen: set[str] | None, nodes: dict[str, str]
) -> Scope:
    return Scope(
        StringArray(accounts),
        None if chosen is None else StringArray(sorted(chosen)),
        StringArray(nodes),
        StringArray(nodes.values()),
        StringArray(
            sorted({catalog.resources[cluster]["cloud_account_id"] for cluster in nodes.values()})
        ),
        StringArray(
            account
            for account in accounts
            if catalog.accounts[account].get("type") == K8S_ACCOUNT_TYPE
        ),
        *catalog.derived("folded node keys", lambda: _folded_node_keys(catalog)),
    )


def _folded_node_keys(catalog: Catalog) -> tuple[StringArray, StringArray]:
    """The bill resources folded into a cluster and their instance keys (etl/storage/nodes.py)."""
    ids, keys = node_vm_keys(catalog.node_clusters, catalog.resources)
    return StringArray(ids), StringArray(keys)


def cost_parameters(
    request_scope: Scope,
    period: Period,
    limit: int | None,
    offset: int = 0,
    metric: str = DEFAULT_METRIC,
) -> dict[str, Any]:
    """The parameters of sql/queries/clean_expenses_costs.sql (`offset`: items skipped;
    `metric`: the cost summed, etl/core/metrics.py)."""
    # An invoice's rows are shown as the bill has them: no node folded into a cluster.
    folding = not period.billing_periods
    nothing = StringArray(())
    return {
        "cloud_account_ids": request_scope.cloud_account_ids,
        "start_date": period.start,
        "end_date": period.end,
        "billing_periods": list(period.billing_periods),
        "cost_column": METRIC_COLUMNS[metric],
        "all_resources": request_scope.resource_ids is None,
        "resource_ids": request_scope.resource_ids or StringArray(()),
        "node_ids": request_scope.node_ids if folding else nothing,
        "node_clusters": request_scope.node_clusters if folding else nothing,
        "cluster_account_ids": request_scope.cluster_account_ids,
        "k8s_account_ids": request_scope.k8s_account_ids,
        **bill_parameters(request_scope, period, metric),
        **Page(limit, offset).sql_parameters(MAX_ITEMS),
    }


def bill_parameters(request_scope: Scope, period: Period, metric: str) -> dict[str, Any]:
    """The bill arguments of the reconciliation (sql/schema/014_cluster_bill_adjustments.sql)
    in `metric`: none under `list` (a cluster costs its exporter's price) nor in an
    invoice's view (its rows as the bill has them, no node folded)."""
    reconciling = not period.billing_periods and metric != LIST_METRIC
    nothing = StringArray(())
    return {
        "bill_resource_ids": request_scope.bill_resource_ids if reconciling else nothing,
        "bill_instance_keys": request_scope.bill_instance_keys if reconciling else nothing,
        "cost_column": METRIC_COLUMNS[metric],
    }
