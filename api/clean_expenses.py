"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

The organization's catalog (api/catalog.py: its live accounts and resource
documents) decides which resources may be seen and applies the attribute filters;
ClickHouse sums, ranks and cuts the costs of those accounts (and, with filters,
of those resource ids), folding cluster nodes into their cluster; the documents
of the returned rows are joined here. The filters are those of api/filters.py
(`CLEAN_EXPENSES`); with an allocation filter (`k8s_namespace`, `k8s_node`,
`k8s_service`), the answer is the organization's clusters, costed from the matching
allocation rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api import clusterparts
from api.arrowbytes import BYTES, NOTHING, joined_values, json_numbers
from api.catalog import Catalog, CatalogCache
from api.clusterparts import Clusters
from api.context import clickhouse
from api.filters import CATALOG_FILTERS, CLEAN_EXPENSES, Filters
from etl.core.config import Settings
from etl.costmodel.assets import COMPONENTS
from etl.storage import sqlfiles
from etl.storage.clickhouse import StringArray
from etl.storage.registry import K8S_ACCOUNT_TYPE

PLAIN_TAIL = pa.array([b"},"], BYTES)  # what follows the cost of an item but a cluster
# "No limit" means this many items: more than any organization has. ClickHouse's
# arraySlice reads its length as signed, so a larger limit must not reach it.
MAX_ITEMS = 2**31 - 1


@dataclass(frozen=True)
class Period:
    """Unix seconds; a day counts when its midnight-UTC row date lies in [start, end]."""

    start: int
    end: int


@dataclass
class CleanExpenses:
    """The items (most expensive first, after `limit`) and the totals before the limit.

    An item is a resource, its account and cost, plus, for a K8s cluster, its
    breakdown and billed nodes (`clusters`, by the item's position). Items are kept
    as Arrow columns (lists are converted) and rendered from the catalog on demand:
    as dicts (CSV, tests) or as JSON laid out by Arrow compute, which skips building
    and encoding a dict per item (an answer can hold 50k items; docs/api.md).
    """

    resource_ids: pa.StringArray
    cloud_account_ids: pa.StringArray
    costs: pa.DoubleArray
    total_count: int
    total_cost: float
    clusters: Clusters = field(default_factory=Clusters.none)
    catalog: Catalog | None = None
    prefixes: pa.LargeBinaryArray | None = None  # catalog.json_prefixes of the items

    def __post_init__(self) -> None:
        self.resource_ids = _arrow(self.resource_ids, pa.string())
        self.cloud_account_ids = _arrow(self.cloud_account_ids, pa.string())
        self.costs = _arrow(self.costs, pa.float64())

    @classmethod
    def empty(cls) -> CleanExpenses:
        """No item at all."""
        return cls([], [], [], 0, 0.0)

    def items(self) -> list[dict[str, Any]]:
        """Each item as a dict with CleanExpenseSchema's fields."""
        if self.catalog is None:
            return []
        catalog = self.catalog
        clusters = self.clusters.as_dicts(catalog)
        return [
            {**catalog.item_base(resource_id, account_id), "cost": cost, **clusters.get(at, {})}
            for at, (resource_id, account_id, cost) in enumerate(
                zip(
                    self.resource_ids.to_pylist(),
                    self.cloud_account_ids.to_pylist(),
                    self.costs.to_pylist(),
                    strict=True,
                )
            )
        ]

    def json_body(self, fields: dict[str, Any]) -> bytes:
        """`fields`, then the items as `clean_expenses`: one JSON object.

        Per item: the catalog's encoded prefix (`Catalog.json_prefixes`, which ends
        with the cost's key), its cost, then its tail: `},`, or for a cluster its
        breakdown and billed nodes first (`Clusters.json_tails`). Arrow joins the three
        columns item by item into one buffer, which is copied once, between the head
        and the end.
        """
        head = msgspec.json.encode(fields)[:-1]
        head += b',"clean_expenses":[' if fields else b'"clean_expenses":['
        count = len(self.resource_ids)
        if self.catalog is None or not count:
            return head + b"]}"
        prefixes = self.prefixes
        if prefixes is None:
            prefixes, _ = self.catalog.json_prefixes(self.resource_ids, self.cloud_account_ids)
        tails = pa.concat_arrays([PLAIN_TAIL, self.clusters.json_tails(self.catalog)])
        tail_of = np.zeros(count, np.int64)
        tail_of[self.clusters.positions] = np.arange(1, len(tails))
        items = pc.binary_join_element_wise(
            prefixes, json_numbers(self.costs), tails.take(tail_of), NOTHING
        )
        return b"".join((head, joined_values(items)[:-1], b"]}"))  # [:-1]: the last comma


def _arrow(values: Sequence[Any] | pa.Array, kind: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, kind)


def _accounts(catalog: Catalog, filters: Filters) -> list[str]:
    wanted = filters.accounts()
    return sorted(
        account
        for account in (catalog.accounts if wanted is None else wanted)
        if account in catalog.accounts
    )


def _candidates(catalog: Catalog, accounts: list[str], filters: Filters) -> set[str] | None:
    """Ids passing the attribute filters (None: every resource of the accounts)."""
    if not filters.narrows_resources:
        return None
    every_account = len(accounts) == len(catalog.accounts)
    ids = (
        set(catalog.resources) if every_account else catalog.ids_where("cloud_account_id", accounts)
    )
    for catalog_filter in CATALOG_FILTERS:  # the attribute and tag filters (api/filters.py)
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


def scope(catalog: Catalog, filters: Filters) -> Scope | None:
    """The request's scope; None when it sees no account at all."""
    accounts = _accounts(catalog, filters)
    if not accounts:
        return None
    candidates = _candidates(catalog, accounts, filters)
    nodes = _node_pairs(catalog, accounts, candidates)
    return Scope(
        StringArray(accounts),
        None if candidates is None else StringArray(sorted(candidates)),
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
    )


def cost_parameters(request_scope: Scope, period: Period, limit: int | None) -> dict[str, Any]:
    """The parameters of sql/queries/clean_expenses_costs.sql."""
    return {
        "cloud_account_ids": request_scope.cloud_account_ids,
        "start_date": period.start,
        "end_date": period.end,
        "all_resources": request_scope.resource_ids is None,
        "resource_ids": request_scope.resource_ids or StringArray(()),
        "node_ids": request_scope.node_ids,
        "node_clusters": request_scope.node_clusters,
        "cluster_account_ids": request_scope.cluster_account_ids,
        "k8s_account_ids": request_scope.k8s_account_ids,
        "limit": MAX_ITEMS if limit is None else min(limit, MAX_ITEMS),
    }


def _expenses_answer(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    catalog: Catalog,
    period: Period,
    filters: Filters,
    limit: int | None,
) -> CleanExpenses:
    request_scope = catalog.memo(filters, lambda: scope(catalog, filters))
    if request_scope is None:
        return CleanExpenses.empty()
    parameters = cost_parameters(request_scope, period, limit)
    with clickhouse() as client:
        table = client.query_arrow(sqlfiles.query("clean_expenses_costs"), parameters=parameters)
    # Arrow columns: no Python object per row. Items come first, then folded node rows.
    if not table.num_rows:
        return CleanExpenses.empty()
    table = table.combine_chunks()  # one chunk per column: free when the answer is one batch
    column = {name: table.column(name).chunk(0) for name in table.column_names}
    total_count = column["total_count"][0].as_py()
    items = min(total_count, parameters["limit"])
    listed = column["resource_id"].slice(0, items)
    listed_accounts = column["cloud_account_id"].slice(0, items)
    keys = column["resource_key"].slice(0, items).to_numpy()
    prefixes, unknown = catalog.json_prefixes(listed, listed_accounts, keys)
    if unknown:
        refreshed = cache.refresh(settings, organization_id, {listed[i].as_py() for i in unknown})
        if refreshed is not catalog:
            catalog = refreshed
            prefixes, _ = catalog.json_prefixes(listed, listed_accounts, keys)
    return CleanExpenses(
        listed,
        listed_accounts,
        column["cost"].slice(0, items),
        total_count,
        column["total_cost"][0].as_py(),
        clusterparts.from_answer(catalog, column, items),
        catalog,
        prefixes,
    )


def _allocation_answer(
    catalog: Catalog, period: Period, filters: Filters, limit: int | None
) -> CleanExpenses:
    """Clusters costed from their allocation rows in the given namespaces, nodes, Services."""
    accounts = _accounts(catalog, filters)
    candidates = _candidates(catalog, accounts, filters)
    clusters = {
        cluster["cloud_account_id"]: cluster_id
        for cluster_id, cluster in catalog.clusters.items()
        if cluster["cloud_account_id"] in accounts
        and (candidates is None or cluster_id in candidates)
    }
    if not clusters:
        return CleanExpenses.empty()
    parameters = {
        "cloud_account_ids": sorted(clusters),
        "start_date": period.start,
        "end_date": period.end,
        **filters.sql_parameters(CLEAN_EXPENSES),
    }
    with clickhouse() as client:
        rows = list(
            client.query(
                sqlfiles.query("clean_expenses_k8s_allocation"), parameters=parameters
            ).named_results()
        )
    rows.sort(key=lambda row: (-row["cost"], clusters[row["cloud_account_id"]]))
    kept = rows[:limit] if limit else rows
    return CleanExpenses(
        [clusters[row["cloud_account_id"]] for row in kept],
        [row["cloud_account_id"] for row in kept],
        [row["cost"] for row in kept],
        len(rows),
        sum(row["cost"] for row in rows),
        Clusters.from_lists(
            range(len(kept)), [{column: row[column] for column in COMPONENTS} for row in kept]
        ),
        catalog,
    )


def find_clean_expenses(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    limit: int | None = None,
) -> CleanExpenses:
    """The organization's resources with cost in the period, most expensive first."""
    catalog = cache.get(settings, organization_id)
    if filters.narrows_allocation:
        return _allocation_answer(catalog, period, filters, limit)
    return _expenses_answer(settings, cache, organization_id, catalog, period, filters, limit)
