"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

The organization's catalog (api/catalog.py: its live accounts and resource
documents) decides which resources may be seen and applies the attribute filters;
ClickHouse sums, ranks and cuts the costs of those accounts (and, with filters,
of those resource ids), folding cluster nodes into their cluster; the documents
of the returned rows are joined here. With `k8s_namespace` or `k8s_node`, the
answer is the organization's clusters, costed from the matching allocation rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from api.catalog import Catalog, CatalogCache
from etl import sqlfiles
from etl.clickhouse import connect
from etl.config import Settings
from etl.costs import COMPONENTS

# ClickHouse's LIMIT is a UInt64; "no limit" is its largest value.
NO_LIMIT = 2**64 - 1


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

    @property
    def narrows_resources(self) -> bool:
        """Whether a filter on resource attributes is given (accounts aside)."""
        return any((self.region, self.service_name, self.resource_type, self.tag, self.without_tag))


@dataclass
class CleanExpenses:
    """The items (most expensive first, after `limit`) and the totals before the limit."""

    items: list[dict[str, Any]]
    total_count: int
    total_cost: float


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


def _ranked_costs(
    client: Client,
    accounts: list[str],
    candidates: set[str] | None,
    nodes: dict[str, str],
    period: Period,
    limit: int | None,
) -> list[dict[str, Any]]:
    clusters = sorted(set(nodes.values()))
    parameters = {
        "cloud_account_ids": accounts,
        "start_date": period.start,
        "end_date": period.end,
        "all_resources": candidates is None,
        "resource_ids": sorted(candidates or ()),
        "node_ids": list(nodes),
        "node_clusters": list(nodes.values()),
        "cluster_account_ids": accounts if clusters else [],
        "limit": NO_LIMIT if limit is None else limit,
    }
    return list(
        client.query(sqlfiles.query("clean_expenses_costs"), parameters=parameters).named_results()
    )


def _breakdowns(
    client: Client, catalog: Catalog, cluster_ids: list[str], period: Period
) -> dict[str, dict[str, float]]:
    if not cluster_ids:
        return {}
    parameters = {
        "cloud_account_ids": sorted(
            {catalog.resources[cluster]["cloud_account_id"] for cluster in cluster_ids}
        ),
        "resource_ids": cluster_ids,
        "start_date": period.start,
        "end_date": period.end,
    }
    rows = client.query(
        sqlfiles.query("clean_expenses_k8s_costs"), parameters=parameters
    ).named_results()
    return {row["resource_id"]: {column: row[column] for column in COMPONENTS} for row in rows}


def _item(catalog: Catalog, resource_id: str, cloud_account_id: str, cost: float) -> dict[str, Any]:
    """The resource document with its cost and account; an orphan row keeps only its ids."""
    resource = catalog.resources.get(resource_id, {"cloud_account_id": cloud_account_id})
    account = catalog.accounts.get(resource["cloud_account_id"], {})
    item = {
        **resource,
        "id": resource_id,
        "resource_id": resource_id,
        "resource_name": resource.get("name"),
        "cost": cost,
        "cloud_account_name": account.get("name"),
        "cloud_account_type": account.get("type"),
    }
    cluster_id = catalog.node_clusters.get(resource_id)
    if cluster_id:
        item["k8s_cluster_id"] = cluster_id
        item["k8s_cluster_name"] = catalog.resources[cluster_id].get("name")
    return item


def _billed_node(catalog: Catalog, row: dict[str, Any]) -> dict[str, Any]:
    node = catalog.resources.get(row["resource_id"], {})
    return {
        "resource_id": row["resource_id"],
        "cloud_resource_id": node.get("cloud_resource_id"),
        "cloud_account_id": row["cloud_account_id"],
        "name": node.get("name"),
        "cost": row["cost"],
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
    accounts = _accounts(catalog, filters)
    if not accounts:
        return CleanExpenses([], 0, 0.0)
    candidates = _candidates(catalog, accounts, filters)
    nodes = _node_pairs(catalog, accounts, candidates)
    # One client for both queries: opening an embedded ClickHouse costs ~0.1 s.
    with connect(settings.clickhouse_dsn) as client:
        rows = _ranked_costs(client, accounts, candidates, nodes, period, limit)
        ranked = [row for row in rows if not row["folded_into"]]
        unknown = {row["resource_id"] for row in ranked} - catalog.resources.keys()
        if unknown:
            catalog = cache.refresh(settings, organization_id, unknown)
        items = [
            _item(catalog, row["resource_id"], row["cloud_account_id"], row["cost"])
            for row in ranked
        ]
        cluster_ids = [item["id"] for item in items if item["id"] in catalog.clusters]
        breakdowns = _breakdowns(client, catalog, cluster_ids, period)
    billed: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["folded_into"]:
            billed.setdefault(row["folded_into"], []).append(_billed_node(catalog, row))
    for item in items:
        if item["id"] in catalog.clusters:
            item["k8s_costs"] = breakdowns.get(item["id"], dict.fromkeys(COMPONENTS, 0.0))
            item["billed_nodes"] = billed.get(item["id"], [])
    return CleanExpenses(
        items,
        rows[0]["total_count"] if rows else 0,
        rows[0]["total_cost"] if rows else 0.0,
    )


def _allocation_answer(
    settings: Settings, catalog: Catalog, period: Period, filters: Filters, limit: int | None
) -> CleanExpenses:
    """Clusters costed from their allocation rows in the given namespaces and nodes."""
    accounts = _accounts(catalog, filters)
    candidates = _candidates(catalog, accounts, filters)
    clusters = {
        cluster["cloud_account_id"]: cluster_id
        for cluster_id, cluster in catalog.clusters.items()
        if cluster["cloud_account_id"] in accounts
        and (candidates is None or cluster_id in candidates)
    }
    if not clusters:
        return CleanExpenses([], 0, 0.0)
    parameters = {
        "cloud_account_ids": sorted(clusters),
        "start_date": period.start,
        "end_date": period.end,
        "namespaces": list(filters.k8s_namespace),
        "nodes": list(filters.k8s_node),
    }
    with connect(settings.clickhouse_dsn) as client:
        rows = list(
            client.query(
                sqlfiles.query("clean_expenses_k8s_allocation"), parameters=parameters
            ).named_results()
        )
    items = []
    for row in rows:
        item = _item(
            catalog, clusters[row["cloud_account_id"]], row["cloud_account_id"], row["cost"]
        )
        item["k8s_costs"] = {column: row[column] for column in COMPONENTS}
        item["billed_nodes"] = []
        items.append(item)
    items.sort(key=lambda item: (-item["cost"], item["id"]))
    return CleanExpenses(
        items[:limit] if limit else items, len(items), sum(item["cost"] for item in items)
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
    if filters.k8s_namespace or filters.k8s_node:
        return _allocation_answer(settings, catalog, period, filters, limit)
    return _expenses_answer(settings, cache, organization_id, catalog, period, filters, limit)
