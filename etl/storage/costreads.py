"""ClickHouse reads of the alerts and budgets (etl/alerts/): daily sums, as DataFrames.

Kept with the other storage code so that the SQL stays in `sql/queries/` and the
alerts package never holds a query string; each function is one query file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.storage import sqlfiles


def _days(first_day: date, last_day: date) -> dict[str, int]:
    return {"first_day": day_start_epoch(first_day), "last_day": day_start_epoch(last_day)}


def allocation_groups(
    client: Client, cloud_account_id: str, first_day: date, last_day: date
) -> pd.DataFrame:
    """One cluster's allocation per (day, namespace, controller, node), with every
    component and the cost (sql/queries/alerts_allocation_groups.sql)."""
    frame = client.query_df(
        sqlfiles.query("alerts_allocation_groups"),
        parameters={"cloud_account_id": cloud_account_id, **_days(first_day, last_day)},
    )
    if not frame.empty:
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


Daily = dict[tuple[str, date], float]


def _daily(frame: pd.DataFrame) -> Daily:
    if frame.empty:  # an empty answer may come without its columns
        return {}
    return {
        (account, pd.Timestamp(day).date()): float(cost)
        for account, day, cost in zip(
            frame["cloud_account_id"], frame["day"], frame["cost"], strict=True
        )
    }


NodeDaily = dict[tuple[str, date, str], float]  # (bill account, day, node resource) -> cost


def expense_days(
    client: Client,
    cloud_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    node_resource_ids: Sequence[str] = (),
) -> tuple[Daily, NodeDaily]:
    """Spend per (account, day), all resources (sql/queries/budgets_expenses_daily.sql),
    and, of it, the spend of each of `node_resource_ids` per day; an account-day
    without rows is absent."""
    if not cloud_account_ids:
        return {}, {}
    frame = client.query_df(
        sqlfiles.query("budgets_expenses_daily"),
        parameters={
            "cloud_account_ids": list(cloud_account_ids),
            "node_resource_ids": list(node_resource_ids),
            **_days(first_day, last_day),
        },
    )
    if frame.empty:
        return {}, {}
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    totals = frame.groupby(["cloud_account_id", "day"], sort=True)["cost"].sum()
    nodes = frame[frame["node_resource_id"] != ""]
    return (
        {key: float(cost) for key, cost in totals.items()},
        {
            (account, day, node): float(cost)
            for account, day, node, cost in nodes[
                ["cloud_account_id", "day", "node_resource_id", "cost"]
            ].itertuples(index=False)
        },
    )


def allocation_days(
    client: Client,
    cloud_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    namespace: str = "",
    label: tuple[str, str] = ("", ""),
) -> Daily:
    """Allocated spend per (cluster, day) in one namespace and/or with one label
    (sql/queries/budgets_allocation_daily.sql); a cluster-day without rows is absent."""
    if not cloud_account_ids:
        return {}
    frame = client.query_df(
        sqlfiles.query("budgets_allocation_daily"),
        parameters={
            "cloud_account_ids": list(cloud_account_ids),
            **_days(first_day, last_day),
            "namespace": namespace,
            "label_key": label[0],
            "label_value": label[1],
        },
    )
    return _daily(frame)
