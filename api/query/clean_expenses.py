"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

The organization's catalog (api/catalog/: its live accounts and resource documents)
decides which resources may be seen, and the scope (api/query/scope.py) applies the
attribute filters; ClickHouse sums, ranks and cuts the costs of those accounts (and,
with filters, of those resource ids), folding cluster nodes into their cluster; the
answer (api/render/answer.py) joins the documents of the returned rows. The filters
are those of api/query/filters.py (`CLEAN_EXPENSES`); with an allocation filter
(`k8s_namespace`, `k8s_node`, `k8s_controller`, `k8s_service`, `k8s_label`), the
answer is the organization's clusters, costed from the matching allocation rows.
This is the first step of the answer (api/query/expenses_answer.py); given a `Page`,
it also orders and pages, in ClickHouse when the query can (`ranked` otherwise).
The queries run in etl/storage/expensereads.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.catalog.cache import CatalogCache
from api.catalog.catalog import Catalog
from api.context import clickhouse
from api.query.filters import CLEAN_EXPENSES, DOCUMENT_FIELDS, Filters
from api.query.metric import reconciliation
from api.query.paging import Page
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
from etl.core.exactsum import exact_sum
from etl.core.metrics import DEFAULT_METRIC
from etl.costmodel.assets import COMPONENTS
from etl.storage.expensereads import ClusterRows, clean_expense_costs, cluster_allocation_costs

# The document fields a catalog keeps: those its items show, then any other field a
# filter reads (so a new attribute filter cannot find nothing).
CATALOG_FIELDS = tuple(dict.fromkeys((*SHOWN_FIELDS, *DOCUMENT_FIELDS)))
# clean_expenses' order: most expensive first, then by resource id, then account id
# (sql/queries/clean_expenses_costs.sql ranks by the same key).
ORDER = [("cost", "descending"), ("resource_id", "ascending"), ("cloud_account_id", "ascending")]


def cluster_rows(
    account_ids: list[str], period: Period, filters: Filters, bill: Mapping[str, Any]
) -> ClusterRows:
    """The allocation rows of these clusters that the request reads: the period's, kept
    by its allocation filters, priced from the bill by `bill`."""
    return ClusterRows(
        account_ids, period.start, period.end, filters.sql_parameters(CLEAN_EXPENSES), bill
    )


def ranked(expenses: CleanExpenses, page: Page) -> CleanExpenses:
    """`expenses` in clean_expenses' order, then the items of `page`."""
    columns = pa.table(
        {
            "cost": expenses.costs,
            "resource_id": expenses.resource_ids,
            "cloud_account_id": expenses.cloud_account_ids,
        }
    )
    order = pc.sort_indices(columns, sort_keys=ORDER).to_numpy()
    return expenses.take(np.asarray(order[page.bounds(len(order))]))


def _expenses_answer(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    catalog: Catalog,
    period: Period,
    request_scope: Scope | None,
    page: Page,
    metric: str,
) -> CleanExpenses:
    if request_scope is None:
        return CleanExpenses.empty()
    parameters = cost_parameters(request_scope, period, page.limit, page.offset, metric)
    with clickhouse() as client:
        table = clean_expense_costs(client, parameters)
    # Arrow columns: no Python object per row. Items come first, then folded node rows.
    if not table.num_rows:
        if not page.offset:
            return CleanExpenses.empty()
        # Past the last item (and no folded row): no items, but the totals of the first.
        first = _expenses_answer(
            settings, cache, organization_id, catalog, period, request_scope, Page(1), metric
        )
        return CleanExpenses([], [], [], first.total_count, first.total_cost)
    table = table.combine_chunks()  # one chunk per column: free when the answer is one batch
    column = {name: table.column(name).chunk(0) for name in table.column_names}
    total_count = column["total_count"][0].as_py()
    items = max(0, min(total_count - page.offset, parameters["limit"]))
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
    page: Page | None,
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
    with clickhouse() as client:
        rows = cluster_allocation_costs(
            client, cluster_rows(sorted(clusters), period, filters, reconciliation(catalog, metric))
        )
    whole = CleanExpenses(
        [clusters[row["group_key"]] for row in rows],
        [row["group_key"] for row in rows],
        [row["cost"] for row in rows],
        len(rows),
        exact_sum(row["cost"] for row in rows),  # as the expense query's total_cost
        Clusters.from_lists(
            range(len(rows)), [{column: row[column] for column in COMPONENTS} for row in rows]
        ),
        catalog,
    )
    return whole if page is None else ranked(whole, page)


def find_clean_expenses(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    page: Page | None,
    metric: str = DEFAULT_METRIC,
) -> CleanExpenses:
    """The organization's resources with cost in the period in the cost `metric`: with a
    `page`, in clean_expenses' order and that page of them; without one (None), every
    item, in no promised order (for a step that changes costs before ordering)."""
    catalog = cache.get(settings, organization_id)
    if filters.narrows_allocation:
        if period.billing_periods:  # allocation rows are a cluster's, which no bill charges
            return CleanExpenses.empty()
        return _allocation_answer(catalog, period, filters, page, metric)
    request_scope = catalog.memo(filters, lambda: scope(catalog, filters))
    return _expenses_answer(
        settings, cache, organization_id, catalog, period, request_scope, page or Page(), metric
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
        settings, cache, organization_id, catalog, period, request_scope, Page(), metric
    )
