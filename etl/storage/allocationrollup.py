"""The rollup of k8s_allocation_reconciled: the allocation rows collapsed and priced from
the bill, stored per cluster-day for a set of bill arguments instead of computed per
request.

The view (sql/schema/010) collapses a period's allocation rows and joins them to
node_bill_factors and pv_bill_factors (each joining a period of bill rows) on every
call, and every allocation reader (k8s_costs and clean_expenses' cluster costs through
etl/storage/k8scostreads.py, the anomaly alerts' and the budgets' reads in
etl/storage/costreads.py) called it per request. A row of the view depends on its own
cluster-day's allocation, node-days and PV-days and on its day's bill rows only, so the
rows are kept per cluster-day (sql/schema/018) and a cluster-day is computed again
only when one of those was restated since (warehouse_day_writes, sql/schema/015,
written by etl/storage/warehouse.py). The answer is then the view's, computed on the
same data: a reader calls `with_rollup` and reads k8s_allocation_rollup
(sql/schema/019, through the macro `allocation_rollup` of sql/include/macros.sql) under
the key it adds.

The key hashes the bill's arguments (the cost column, the folded bill resources and
their instance keys), so another metric or a changed folding (a node VM added to the
catalog) is another rollup, computed on its first read; the clusters are not part of
it, since no cluster's rows depend on another's. Rows written by hand rather than by a
restatement (bench/api.py's bulk load) are not seen as writes: such data must be loaded
before its cluster-days are first read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import dayrollup, rollupgate, sqlfiles
from etl.storage.clickhouse import StringArray

# The arguments of the view that the rows depend on besides their cluster-day.
BILL_ARGUMENTS = ("cost_column", "bill_resource_ids", "bill_instance_keys")


def refresh(
    client: Client,
    cloud_account_ids: Sequence[str] | StringArray,
    first_day: int,
    last_day: int,
    bill: Mapping[str, Any],
) -> str:
    """Compute the rollup of the cluster-days of these clusters over [first_day,
    last_day] (Unix seconds) that it misses or that were restated since, for the bill
    arguments `bill` (bill_resource_ids, bill_instance_keys, cost_column); returns its
    key. Skipped while nothing was restated since it last ran for these clusters and
    days (etl/storage/rollupgate.py).

    The cluster-days' versions are read before their rows are computed, so a
    restatement that lands in between is either in the rows or newer than their
    version (computed again at the next read), never lost.
    """
    key = dayrollup.arguments_key({name: bill[name] for name in BILL_ARGUMENTS})
    accounts = dayrollup.arguments_key({"cloud_account_ids": cloud_account_ids})
    rollupgate.refresh_unless_current(
        client,
        ("allocation_rollup_stale_days", key, (first_day, last_day), accounts),
        lambda: _refresh_stale(client, key, bill, cloud_account_ids, (first_day, last_day)),
    )
    return key


def _refresh_stale(
    client: Client,
    key: str,
    bill: Mapping[str, Any],
    cloud_account_ids: Sequence[str] | StringArray,
    period: tuple[int, int],
) -> None:
    """The refresh itself: the stale cluster-days' query, then their compute."""
    first_day, last_day = period
    stale = client.query(
        sqlfiles.query("allocation_rollup_stale_days"),
        parameters={
            "rollup_key": key,
            "cloud_account_ids": cloud_account_ids,
            "start_date": first_day,
            "end_date": last_day,
        },
    ).result_rows
    if stale:
        compute = stale_compute(key, stale)
        client.command(
            sqlfiles.query("allocation_rollup_compute"),
            parameters={
                **{name: bill[name] for name in BILL_ARGUMENTS},
                **compute,
                **stale_span(stale),
            },
        )
        client.command(sqlfiles.query("allocation_rollup_markers"), parameters=compute)


def stale_compute(key: str, stale: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The parameters a compute of the rollup `key` and its markers share for the stale
    cluster-days `stale` (rows of account, day, version: sql/include/macros.sql
    `stale_cluster_days`), under a compute id of its own."""
    accounts, days, versions = (list(column) for column in zip(*stale, strict=True))
    return {
        "rollup_key": key,
        "compute_id": str(uuid.uuid4()),
        "stale_accounts": StringArray(accounts),
        "stale_days": days,
        "versions": versions,
    }


def stale_span(stale: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The accounts and days a compute reads to cover the stale cluster-days `stale`."""
    return {
        "cloud_account_ids": StringArray(sorted({account for account, _, _ in stale})),
        "start_date": min(day for _, day, _ in stale),
        "end_date": max(day for _, day, _ in stale),
    }


def with_rollup(
    client: Client,
    parameters: Mapping[str, Any],
    cloud_account_ids: Sequence[str] | StringArray,
    first_day: int,
    last_day: int,
) -> dict[str, Any]:
    """A reader's `parameters` with the `allocation_key` of these clusters and days,
    refreshed, in place of the bill arguments it names: what a query reading the
    macro `allocation_rollup` takes. (clickhouse-connect formats every parameter it is
    given, used or not: the bill's thousands of ids cost more than the query.)"""
    key = refresh(client, cloud_account_ids, first_day, last_day, parameters)
    kept = {name: value for name, value in parameters.items() if name not in BILL_ARGUMENTS}
    return {**kept, "allocation_key": key}
