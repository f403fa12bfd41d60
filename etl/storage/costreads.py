"""ClickHouse reads of the alerts and budgets (etl/alerts/): daily sums, as DataFrames.

Kept with the other storage code so that the SQL stays in `sql/queries/` and the
alerts package never holds a query string; each function is one query file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.core.metrics import DEFAULT_METRIC
from etl.storage import allocationrollup, sqlfiles
from etl.storage.breakdownreads import expense_key_days
from etl.storage.clickhouse import StringArray
from etl.storage.nodedays import bill_arguments


def _days(first_day: date, last_day: date) -> dict[str, int]:
    return {"first_day": day_start_epoch(first_day), "last_day": day_start_epoch(last_day)}


def allocation_groups(
    client: Client,
    cloud_account_id: str,
    first_day: date,
    last_day: date,
    bill: Mapping[str, Any],
) -> pd.DataFrame:
    """One cluster's allocation per (day, namespace, controller, node), with every
    component and the cost (sql/queries/alerts_allocation_groups.sql), its nodes and PVs
    priced from the bill by `bill` (etl/storage/nodedays.py: organization_bill)."""
    days = _days(first_day, last_day)
    frame = client.query_df(
        sqlfiles.query("alerts_allocation_groups"),
        parameters=allocationrollup.with_rollup(
            client,
            {"cloud_account_id": cloud_account_id, **days, **bill},
            [cloud_account_id],
            days["first_day"],
            days["last_day"],
        ),
    )
    if not frame.empty:
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


Daily = dict[tuple[str, date], float]
# The K8s accounts, and the node VMs and disks (bill resource ids, their instance keys)
# folded into their clusters, whose bill prices their nodes and PVs.
Reconciled = tuple[Sequence[str], tuple[list[str], list[str]]]
NOTHING_RECONCILED: Reconciled = ((), ([], []))


def _daily(frame: pd.DataFrame) -> Daily:
    if frame.empty:  # an empty answer may come without its columns
        return {}
    # A row per cluster-day, a handful of days: each day converted once.
    days = {day: pd.Timestamp(day).date() for day in frame["day"].unique()}
    return {
        (account, days[day]): float(cost)
        for account, day, cost in zip(
            frame["cloud_account_id"], frame["day"], frame["cost"], strict=True
        )
    }


def expense_days(
    client: Client,
    cloud_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    node_clusters: Mapping[str, str] | None = None,
    cluster_account_ids: Sequence[str] = (),
    metric: str = DEFAULT_METRIC,
    reconciled: Reconciled = NOTHING_RECONCILED,
) -> Daily:
    """Spend per (account, day), every resource: clean_expenses' count, by account
    (sql/queries/breakdown_expenses_costs.sql). With `node_clusters` (bill resource ->
    the cluster resource it is a node's VM or a PV's disk of, etl/storage/nodes.py;
    `cluster_account_ids`: those clusters' accounts), their bill cost is left out on the
    days its cluster has a cost, which holds it. `metric`: the cost summed
    (etl/core/metrics.py). `reconciled`: the K8s accounts and the folded VMs and disks
    whose bill prices their nodes and PVs (docs/api.md, "Reconciliation: nodes priced
    from the bill"), as clean_expenses
    prices them; none under `list`. An account-day without rows is absent. Read from
    breakdown_expenses' rollup of that query's days (etl/storage/breakdownreads.py), so
    the budgets' months are summed from stored rows, not raw ones, on every request."""
    if not cloud_account_ids:
        return {}
    nodes = sorted((node_clusters or {}).items())
    k8s_accounts, bill_nodes = reconciled
    # As StringArray, as bill_arguments: formatted once, not value by value.
    parameters = {
        "cloud_account_ids": StringArray(cloud_account_ids),
        "skip_account_ids": [],
        "start_date": day_start_epoch(first_day),
        "end_date": day_start_epoch(last_day),
        "all_resources": True,
        "resource_ids": [],
        "by_account": True,
        "key_ids": [],
        "key_values": [],
        "key_account_ids": [],
        "key_account_values": [],
        "node_ids": StringArray(node for node, _ in nodes),
        "node_clusters": StringArray(cluster for _, cluster in nodes),
        "cluster_account_ids": StringArray(cluster_account_ids),
        "k8s_account_ids": StringArray(k8s_accounts),
        **bill_arguments(bill_nodes, metric),
    }
    rows = expense_key_days(client, parameters)
    # A row per account-day (a thousand accounts' month: 30k), a handful of days: each
    # day converted once.
    days = {day: datetime.fromtimestamp(day, UTC).date() for day in {row[0] for row in rows}}
    return {(account, days[day]): float(cost) for day, account, cost in rows}


def allocation_days(
    client: Client,
    cloud_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    bill: Mapping[str, Any],
    namespace: str = "",
    label: tuple[str, str] = ("", ""),
) -> Daily:
    """Allocated spend per (cluster, day) in one namespace and/or with one label
    (sql/queries/budgets_allocation_daily.sql), its nodes and PVs priced from the bill by
    `bill` (etl/storage/nodedays.py: organization_bill); a cluster-day without rows is
    absent."""
    if not cloud_account_ids:
        return {}
    days = _days(first_day, last_day)
    parameters = {
        "cloud_account_ids": list(cloud_account_ids),
        **days,
        "namespace": namespace,
        "label_key": label[0],
        "label_value": label[1],
        **bill,
    }
    frame = client.query_df(
        sqlfiles.query("budgets_allocation_daily"),
        parameters=allocationrollup.with_rollup(
            client,
            parameters,
            parameters["cloud_account_ids"],
            days["first_day"],
            days["last_day"],
        ),
    )
    return _daily(frame)
