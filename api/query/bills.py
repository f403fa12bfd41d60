"""The bills: each cloud account's invoice per billing period, and the folded node VMs.

Answered from two reads instead of the full item listing per month and metric that
the bills page used to make (every resource of the organization costed three times
a month, then summed in the browser): one query of the totals per (account, billing
period) in the three metrics (sql/queries/bills_totals.sql), and clean_expenses' own
query over the clusters with billed nodes and those nodes only (find_billed_nodes),
so each cluster's `billed_nodes` are exactly clean_expenses' for the same period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.catalog.cache import CatalogCache
from api.context import clickhouse
from api.query.clean_expenses import find_billed_nodes
from api.query.filters import Filters
from api.query.parallel import both
from api.query.scope import Period, scope
from api.render.answer import CleanExpenses
from api.render.arrowbytes import BYTES, NOTHING, bytes_array
from etl.core.config import Settings
from etl.core.exactsum import exact_sum
from etl.core.metrics import METRICS
from etl.storage import expenses

# The answer's total columns, in the metrics' order (etl/core/metrics.py).
TOTAL_FIELDS = {metric: f"{metric}_cost" for metric in METRICS}
# What ends a cluster of the answer, and what separates two.
CLUSTER_END, CLUSTER_SEPARATOR = pa.scalar(b"}", BYTES), b","


def billing_months(start: int, end: int) -> list[int]:
    """The months (YYYYMM) that the days of [start, end] (Unix seconds) fall in."""
    first, last = (datetime.fromtimestamp(seconds, UTC).date() for seconds in (start, end))
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(year * 100 + month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def _totals(catalog: Any, filters: Filters, months: Sequence[int]) -> list[dict[str, Any]]:
    request_scope = catalog.memo(filters, lambda: scope(catalog, filters))
    if request_scope is None or not months:
        return []
    with clickhouse() as client:
        found = expenses.bill_totals(
            client, request_scope.cloud_account_ids, months, request_scope.resource_ids
        )
    bills = []
    for row in found:
        account = catalog.accounts.get(row["cloud_account_id"], {})
        bills.append(
            {
                "cloud_account_id": row["cloud_account_id"],
                "cloud_account_name": account.get("name"),
                "cloud_account_type": account.get("type"),
                "billing_period": month_text(row["billing_month"]),
                "item_count": row["item_count"],
                **{field: float(row[field]) for field in TOTAL_FIELDS.values()},
            }
        )
    return bills


def folded_clusters(folded: CleanExpenses) -> msgspec.Raw:
    """The `clusters` of the answer, as JSON: each cluster item of `folded` that has billed
    nodes or a reconciliation, with its id, account and name as its clean_expenses item
    shows them, then its `billed_nodes` and `reconciliation`.

    Laid out by Arrow compute from the answer's columns (api/render/clusterparts.py
    `billed_json`, which refuses a cost that is not finite), as clean_expenses lays out
    its items: building every cluster's item as a dict and encoding the dicts took
    longer than reading them (docs/dashboard.md, "Performance")."""
    catalog, clusters = folded.catalog, folded.clusters
    if catalog is None or not len(clusters.positions):
        return msgspec.Raw(b"[]")
    has_nodes = np.diff(clusters.node_offsets) > 0
    listed = np.flatnonzero(has_nodes | (clusters.reconciled is not None))
    listed = listed[np.argsort(clusters.positions[listed], kind="stable")]  # the items' order
    positions = clusters.positions[listed].tolist()
    resource_ids = folded.resource_ids.take(positions).to_pylist()
    account_ids = folded.cloud_account_ids.take(positions).to_pylist()
    heads = []
    for resource_id, account_id in zip(resource_ids, account_ids, strict=True):
        # As item_base shows a resource: its document's account and name, else the row's ids.
        resource = catalog.resources.get(resource_id, {})
        fields = {
            "resource_id": resource_id,
            "cloud_account_id": resource.get("cloud_account_id", account_id),
            "name": resource.get("name"),
        }
        heads.append(msgspec.json.encode(fields)[:-1])
    items = pc.binary_join_element_wise(
        bytes_array(heads), clusters.billed_json(catalog).take(listed), CLUSTER_END, NOTHING
    )
    return msgspec.Raw(b"[" + CLUSTER_SEPARATOR.join(items.to_pylist()) + b"]")


def find_bills(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    metric: str,
) -> dict[str, Any]:
    """The bills of the billing periods the period's days fall in, their totals, and the
    clusters with node VMs folded into them over the period (in `metric`): two reads,
    side by side (api/query/parallel.py)."""
    catalog = cache.get(settings, organization_id)
    months = billing_months(period.start, period.end)
    # Allocation rows are a cluster's, which no bill charges (find_clean_expenses).
    bills, folded = both(
        lambda: [] if filters.narrows_allocation else _totals(catalog, filters, months),
        lambda: find_billed_nodes(settings, cache, organization_id, period, filters, metric),
    )
    return {
        "billing_periods": [month_text(month) for month in months],
        "bills": bills,
        "totals": {
            field: exact_sum(bill[field] for bill in bills) for field in TOTAL_FIELDS.values()
        },
        "clusters": folded_clusters(folded),
    }
