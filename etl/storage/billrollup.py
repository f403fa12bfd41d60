"""The rollup of cluster_bill_adjustments: what pricing the clusters from the bill adds
per (cluster account, day), stored per set of arguments instead of joined per request.

The view (sql/schema/014) joins a period's node-days, PV-days and bill rows on every
call, and every cost reader (clean_expenses, breakdown_expenses, the budgets, the
bills) called it per request. Its rows depend on their own day's data only, so they
are kept per day (sql/schema/016) and a day is computed again only when a table the
view reads was restated on it since (warehouse_day_writes, sql/schema/015, written by
etl/storage/warehouse.py; the mechanism: etl/storage/dayrollup.py). The answer is then
the view's, computed on the same data: a reader calls `refresh` (which computes the
missing or restated days of its period and names the arguments) and reads
cluster_bill_adjustments_rollup (sql/schema/017) under the key it returns.

The key hashes every argument (the cost column, the cluster accounts, the folded bill
resources and their instance keys), so another organization, another metric or a
changed folding (a new node VM in the catalog) is another rollup, computed on its first
read. Rows written by hand rather than by a restatement (bench/api.py's bulk load) are
not seen as writes: such data must be loaded before its days are first read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import dayrollup
from etl.storage.clickhouse import StringArray

# The tables the view reads: a restatement of one of them on a day makes the day stale.
BILL_ADJUSTMENTS = dayrollup.DayRollup(
    stale_days="bill_adjustment_stale_days",
    compute="bill_adjustment_compute",
    markers="bill_adjustment_markers",
    tables=("expenses", "k8s_node_days", "k8s_pv_days"),
)


def refresh(
    client: Client,
    cluster_account_ids: Sequence[str] | StringArray,
    first_day: int,
    last_day: int,
    bill: Mapping[str, Any],
) -> str:
    """Compute the rollup of the days of [first_day, last_day] (Unix seconds) that it
    misses or that were restated since, for these cluster accounts and bill arguments
    (`bill`: bill_resource_ids, bill_instance_keys, cost_column); returns its key."""
    arguments = {
        "cluster_account_ids": cluster_account_ids,
        "bill_resource_ids": bill["bill_resource_ids"],
        "bill_instance_keys": bill["bill_instance_keys"],
        "cost_column": bill["cost_column"],
    }
    key = dayrollup.arguments_key(arguments)
    dayrollup.refresh(
        client,
        BILL_ADJUSTMENTS,
        key,
        (first_day, last_day),
        {"cluster_account_ids": cluster_account_ids},
        lambda first, last: {**arguments, "first_day": first, "last_day": last},
    )
    return key


def with_rollup(
    client: Client, parameters: Mapping[str, Any], cluster_accounts: str = "k8s_account_ids"
) -> dict[str, Any]:
    """A reader's `parameters` (start_date, end_date and the bill arguments, the
    cluster accounts under `cluster_accounts`) plus the `rollup_key` of its period,
    refreshed: what a query reading cluster_bill_adjustments_rollup takes."""
    key = refresh(
        client,
        parameters[cluster_accounts],
        parameters["start_date"],
        parameters["end_date"],
        parameters,
    )
    return {**parameters, "rollup_key": key}
