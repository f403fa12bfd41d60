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

from api.catalog.cache import CatalogCache
from api.context import clickhouse
from api.query.clean_expenses import find_billed_nodes
from api.query.filters import Filters
from api.query.scope import Period, scope
from etl.core.config import Settings
from etl.core.metrics import METRICS
from etl.storage import expenses

# The answer's total columns, in the metrics' order (etl/core/metrics.py).
TOTAL_FIELDS = {metric: f"{metric}_cost" for metric in METRICS}
# What a cluster of the answer carries from its clean_expenses item.
CLUSTER_FIELDS = ("billed_nodes", "reconciliation")


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


def find_bills(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    metric: str,
) -> dict[str, Any]:
    """The bills of the billing periods the period's days fall in, their totals, and the
    clusters with node VMs folded into them over the period (in `metric`)."""
    catalog = cache.get(settings, organization_id)
    months = billing_months(period.start, period.end)
    # Allocation rows are a cluster's, which no bill charges (find_clean_expenses).
    bills = [] if filters.narrows_allocation else _totals(catalog, filters, months)
    folded = find_billed_nodes(settings, cache, organization_id, period, filters, metric)
    clusters = [
        {
            "resource_id": item["resource_id"],
            "cloud_account_id": item["cloud_account_id"],
            "name": item.get("name"),
            "billed_nodes": [],
            **{key: value for key, value in item.items() if key in CLUSTER_FIELDS},
        }
        for item in folded.items()
        if item.get("billed_nodes") or item.get("reconciliation")
    ]
    return {
        "billing_periods": [month_text(month) for month in months],
        "bills": bills,
        "totals": {
            field: sum((bill[field] for bill in bills), 0.0) for field in TOTAL_FIELDS.values()
        },
        "clusters": clusters,
    }
