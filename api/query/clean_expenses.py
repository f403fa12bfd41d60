"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

The organization's catalog (api/catalog/: its live accounts and resource documents)
decides which resources may be seen, and the scope (api/query/scope.py) applies the
attribute filters; ClickHouse sums, ranks and cuts the costs of those accounts (and,
with filters, of those resource ids), folding cluster nodes into their cluster; the
answer (api/render/answer.py) joins the documents of the returned rows. The filters
are those of api/query/filters.py (`CLEAN_EXPENSES`); with an allocation filter
(`k8s_namespace`, `k8s_node`, `k8s_controller`, `k8s_service`, `k8s_label`), the
answer is the organization's clusters, costed from the matching allocation rows.
"""

from __future__ import annotations

from api.catalog.cache import CatalogCache
from api.catalog.catalog import Catalog
from api.context import clickhouse
from api.query.filters import CLEAN_EXPENSES, DOCUMENT_FIELDS, Filters
from api.query.metric import reconciliation
from api.query.paging import page
from api.query.scope import (
    Period,
    Scope,
    accounts_of,
    candidates,
    cost_parameters,
    folded_scope,
    scope,
)
from api.render import clusterparts
from api.render.answer import CleanExpenses
from api.render.clusterparts import Clusters
from api.render.items import SHOWN_FIELDS, EncodedItems
from etl.core.config import Settings
from etl.core.metrics import DEFAULT_METRIC
from etl.costmodel.assets import COMPONENTS
from etl.storage import billrollup, sqlfiles

# The document fields a catalog keeps: those its items show, then any other field a
# filter reads (so a new attribute filter cannot find nothing).
CATALOG_FIELDS = tuple(dict.fromkeys((*SHOWN_FIELDS, *DOCUMENT_FIELDS)))


def _expenses_answer(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    catalog: Catalog,
    period: Period,
    request_scope: Scope | None,
    limit: int | None,
    offset: int,
    metric: str,
) -> CleanExpenses:
    if request_scope is None:
        return CleanExpenses.empty()
    parameters = cost_parameters(request_scope, period, limit, offset, metric)
    with clickhouse() as client:
        table = client.query_arrow(
            sqlfiles.query("clean_expenses_costs"),
            parameters=billrollup.with_rollup(client, parameters),
        )
    # Arrow columns: no Python object per row. Items come first, then folded node rows.
    if not table.num_rows:
        if not offset:
            return CleanExpenses.empty()
        # Past the last item (and no folded row): no items, but the totals of the first.
        first = _expenses_answer(
            settings, cache, organization_id, catalog, period, request_scope, 1, 0, metric
        )
        return CleanExpenses([], [], [], first.total_count, first.total_cost)
    table = table.combine_chunks()  # one chunk per column: free when the answer is one batch
    column = {name: table.column(name).chunk(0) for name in table.column_names}
    total_count = column["total_count"][0].as_py()
    items = max(0, min(total_count - offset, parameters["limit"]))
    listed = column["resource_id"].slice(0, items)
    listed_accounts = column["cloud_account_id"].slice(0, items)
    keys = column["resource_key"].slice(0, items).to_numpy()
    prefixes, unknown = EncodedItems.of(catalog).item_prefixes(listed, listed_accounts, keys)
    if unknown:
        refreshed = cache.refresh(settings, organization_id, {listed[i].as_py() for i in unknown})
        if refreshed is not catalog:
            catalog = refreshed
            prefixes, _ = EncodedItems.of(catalog).item_prefixes(listed, listed_accounts, keys)
    return CleanExpenses(
        listed,
        listed_accounts,
        column["cost"].slice(0, items),
        total_count,
        column["total_cost"][0].as_py(),
        clusterparts.from_answer(catalog, column, items, metric),
        catalog,
        prefixes,
    )


def _allocation_answer(
    catalog: Catalog,
    period: Period,
    filters: Filters,
    limit: int | None,
    offset: int,
    metric: str,
) -> CleanExpenses:
    """Clusters costed from their allocation rows that the allocation filters keep.

    The rows are k8s_costs' (sql/queries/k8s_costs_groups.sql) grouped by cluster, so
    both endpoints apply the same filters the same way, nodes and PVs priced from the
    bill in `metric` alike.
    """
    accounts = accounts_of(catalog, filters)
    chosen = candidates(catalog, accounts, filters)
    clusters = {
        cluster["cloud_account_id"]: cluster_id
        for cluster_id, cluster in catalog.clusters.items()
        if cluster["cloud_account_id"] in accounts and (chosen is None or cluster_id in chosen)
    }
    if not clusters:
        return CleanExpenses.empty()
    parameters = {
        "cloud_account_ids": sorted(clusters),
        "start_date": period.start,
        "end_date": period.end,
        "group_by": "cluster",
        **filters.sql_parameters(CLEAN_EXPENSES),
        **reconciliation(catalog, metric),
    }
    with clickhouse() as client:
        rows = [
            {**row, "cloud_account_id": row["group_key"]}
            for row in client.query(
                sqlfiles.query("k8s_costs_groups"), parameters=parameters
            ).named_results()
        ]
    rows.sort(key=lambda row: (-row["cost"], clusters[row["cloud_account_id"]]))
    kept = page(rows, limit, offset)
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
    offset: int = 0,
    metric: str = DEFAULT_METRIC,
) -> CleanExpenses:
    """The organization's resources with cost in the period, most expensive first
    (the `offset` most expensive skipped, then at most `limit`), in the cost `metric`."""
    catalog = cache.get(settings, organization_id)
    if filters.narrows_allocation:
        if period.billing_periods:  # allocation rows are a cluster's, which no bill charges
            return CleanExpenses.empty()
        return _allocation_answer(catalog, period, filters, limit, offset, metric)
    request_scope = catalog.memo(filters, lambda: scope(catalog, filters))
    return _expenses_answer(
        settings, cache, organization_id, catalog, period, request_scope, limit, offset, metric
    )


def find_billed_nodes(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    metric: str = DEFAULT_METRIC,
) -> CleanExpenses:
    """find_clean_expenses' answer for the clusters and their folded nodes only
    (api/query/scope.py folded_scope): each cluster's `billed_nodes` and `reconciliation`
    as the full answer has them, the same query costing those resources rather than all."""
    catalog = cache.get(settings, organization_id)
    if filters.narrows_allocation or period.billing_periods:
        return CleanExpenses.empty()  # no folding then (find_clean_expenses)
    request_scope = catalog.memo(("folded", filters), lambda: folded_scope(catalog, filters))
    return _expenses_answer(
        settings, cache, organization_id, catalog, period, request_scope, None, 0, metric
    )
