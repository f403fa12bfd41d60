"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

The organization's catalog (api/catalog.py: its live accounts and resource
documents) decides which resources may be seen and applies the attribute filters;
ClickHouse sums, ranks and cuts the costs of those accounts (and, with filters,
of those resource ids), folding cluster nodes into their cluster; the documents
of the returned rows are joined here. With `k8s_namespace`, `k8s_node` or
`k8s_service`, the answer is the organization's clusters, costed from the matching
allocation rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import msgspec

from api.catalog import Catalog, CatalogCache
from api.context import clickhouse
from etl import sqlfiles
from etl.clickhouse import StringArray
from etl.config import Settings
from etl.costs import COMPONENTS
from etl.registry import K8S_ACCOUNT_TYPE

# "No limit" means this many items: more than any organization has. ClickHouse's
# arraySlice reads its length as signed, so a larger limit must not reach it.
MAX_ITEMS = 2**31 - 1


@dataclass(frozen=True)
class Period:
    """Unix seconds; a day counts when its midnight-UTC row date lies in [start, end]."""

    start: int
    end: int


@dataclass(frozen=True)
class Filters:
    """The repeatable filters of clean_expenses; an empty tuple filters nothing."""

    cloud_account_id: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    service_name: tuple[str, ...] = ()
    resource_type: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    without_tag: tuple[str, ...] = ()
    k8s_namespace: tuple[str, ...] = ()
    k8s_node: tuple[str, ...] = ()
    k8s_service: tuple[str, ...] = ()

    @property
    def narrows_resources(self) -> bool:
        """Whether a filter on resource attributes is given (accounts aside)."""
        return any((self.region, self.service_name, self.resource_type, self.tag, self.without_tag))

    @property
    def narrows_allocation(self) -> bool:
        """Whether a filter only the allocation rows can answer is given."""
        return any((self.k8s_namespace, self.k8s_node, self.k8s_service))


@dataclass
class ClusterPart:
    """What a K8s cluster item adds: its breakdown and the bill rows folded into it."""

    k8s_costs: dict[str, float]
    billed_nodes: list[tuple[str, str, float]] = field(default_factory=list)  # node, account, cost

    def as_dict(self, catalog: Catalog) -> dict[str, Any]:
        """The item's `k8s_costs` and `billed_nodes` fields."""
        return {
            "k8s_costs": self.k8s_costs,
            "billed_nodes": [
                {**catalog.billed_node(node_id, account_id), "cost": cost}
                for node_id, account_id, cost in self.billed_nodes
            ],
        }

    def json_fields(self, catalog: Catalog) -> bytes:
        """The same fields as JSON members (`,"k8s_costs":{...},"billed_nodes":[...]`).

        Each billed node is its catalog prefix (encoded once per catalog) and its cost.
        """
        encode = msgspec.json.encode
        nodes = b",".join(
            catalog.billed_node_prefix(node_id, account_id) + encode(cost) + b"}"
            for node_id, account_id, cost in self.billed_nodes
        )
        return b',"k8s_costs":' + encode(self.k8s_costs) + b',"billed_nodes":[' + nodes + b"]"


@dataclass
class CleanExpenses:
    """The items (most expensive first, after `limit`) and the totals before the limit.

    An item is a resource, its account and cost, plus, for a K8s cluster, its
    breakdown and billed nodes (`clusters`, by the item's position). Items are kept
    as columns and rendered from the catalog's per-resource parts on demand: as dicts
    (CSV, tests) or as JSON fragments, which skip building and encoding a dict per
    item (an answer can hold 50k items; docs/api.md).
    """

    resource_ids: Sequence[str]
    cloud_account_ids: Sequence[str]
    costs: Sequence[float]
    total_count: int
    total_cost: float
    clusters: dict[int, ClusterPart] = field(default_factory=dict)
    catalog: Catalog | None = None
    prefixes: Sequence[bytes] | None = None  # catalog.json_prefixes of the items

    @classmethod
    def empty(cls) -> CleanExpenses:
        """No item at all."""
        return cls([], [], [], 0, 0.0)

    def _parts(self) -> Iterator[tuple[str, str, float, ClusterPart | None]]:
        return zip(
            self.resource_ids,
            self.cloud_account_ids,
            self.costs,
            map(self.clusters.get, range(len(self.resource_ids))),
            strict=True,
        )

    def items(self) -> list[dict[str, Any]]:
        """Each item as a dict with CleanExpenseSchema's fields."""
        if self.catalog is None:
            return []
        catalog = self.catalog
        return [
            {
                **catalog.item_base(resource_id, account_id),
                "cost": cost,
                **(cluster.as_dict(catalog) if cluster else {}),
            }
            for resource_id, account_id, cost, cluster in self._parts()
        ]

    def json_body(self, fields: dict[str, Any]) -> bytes:
        """`fields`, then the items as `clean_expenses`: one JSON object, in one join.

        Per item: the catalog's encoded prefix (`Catalog.json_prefixes`, which ends
        with the cost's key), then its tail: the cost, for a cluster its breakdown and
        billed nodes, `}` and the separator. All costs are encoded in one call and cut
        into tails; prefixes and tails are laid out by slice assignment, without a loop
        over items in Python, and joined once with the head.
        """
        encode = msgspec.json.encode
        head = encode(fields)[:-1] + (b',"clean_expenses":[' if fields else b'"clean_expenses":[')
        if self.catalog is None or not self.resource_ids:
            return head + b"]}"
        count = len(self.resource_ids)
        prefixes = self.prefixes
        if prefixes is None:
            prefixes, _ = self.catalog.json_prefixes(self.resource_ids, self.cloud_account_ids)
        # `c0},`, `c1},`...: JSON numbers hold neither a comma nor a newline.
        tails = (encode(list(self.costs))[1:-1] + b",").replace(b",", b"},\n").split(b"\n")
        for position, cluster in self.clusters.items():  # `c,"k8s_costs":...},`
            tails[position] = tails[position][:-2] + cluster.json_fields(self.catalog) + b"},"
        tails[count - 1] = tails[count - 1][:-1]
        parts = [head] * (2 * count + 2)
        parts[1:-1:2] = prefixes
        parts[2:-1:2] = tails[:count]
        parts[-1] = b"]}"
        return b"".join(parts)


def _accounts(catalog: Catalog, filters: Filters) -> list[str]:
    wanted = set(filters.cloud_account_id) if filters.cloud_account_id else catalog.accounts
    return sorted(account for account in wanted if account in catalog.accounts)


def _candidates(catalog: Catalog, accounts: list[str], filters: Filters) -> set[str] | None:
    """Ids passing the attribute filters (None: every resource of the accounts)."""
    if not filters.narrows_resources:
        return None
    every_account = len(accounts) == len(catalog.accounts)
    ids = (
        set(catalog.resources) if every_account else catalog.ids_where("cloud_account_id", accounts)
    )
    for attribute in ("region", "service_name", "resource_type"):
        values = getattr(filters, attribute)
        if values:
            ids &= catalog.ids_where(attribute, values)
    if filters.tag:
        ids &= catalog.ids_tagged(filters.tag)
    if filters.without_tag:
        ids -= catalog.ids_tagged(filters.without_tag)
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
        result = client.query(sqlfiles.query("clean_expenses_costs"), parameters=parameters)
    # Columns, not rows: no tuple per row. Items come first, then folded node rows.
    if not result.result_columns or not result.result_columns[0]:
        return CleanExpenses.empty()
    column = dict(zip(result.column_names, result.result_columns, strict=True))
    folded_into, resource_ids, account_ids, costs = (
        column[name] for name in ("folded_into", "resource_id", "cloud_account_id", "cost")
    )
    items = min(column["total_count"][0], parameters["limit"])  # the rest are folded rows
    listed = resource_ids[:items]
    listed_accounts = account_ids[:items]
    prefixes, unknown = catalog.json_prefixes(listed, listed_accounts)
    if unknown:
        refreshed = cache.refresh(settings, organization_id, {listed[i] for i in unknown})
        if refreshed is not catalog:
            catalog = refreshed
            prefixes, _ = catalog.json_prefixes(listed, listed_accounts)
    positions = {
        listed[index]: index
        for index in compress(range(items), column["in_k8s_account"])
        if listed[index] in catalog.clusters
    }
    clusters = {
        index: ClusterPart({name: column[name][index] for name in COMPONENTS})
        for index in positions.values()
    }
    for index in range(items, len(resource_ids)):  # in order: by cluster, costliest first
        position = positions.get(folded_into[index])
        if position is not None:
            clusters[position].billed_nodes.append(
                (resource_ids[index], account_ids[index], costs[index])
            )
    return CleanExpenses(
        listed,
        listed_accounts,
        costs[:items],
        column["total_count"][0],
        column["total_cost"][0],
        clusters,
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
        "namespaces": list(filters.k8s_namespace),
        "nodes": list(filters.k8s_node),
        "services": list(filters.k8s_service),
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
        {
            position: ClusterPart({column: row[column] for column in COMPONENTS})
            for position, row in enumerate(kept)
        },
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
