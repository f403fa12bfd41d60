"""ClickHouse reads of one tenant-day as every reader sees it, for the quality check
(etl/worker/quality.py), which compares them with the ledger and holds no query string.

Each read folds the day's rows the way the API does (SUM(x * sign) ... HAVING
SUM(sign) > 0), so a doubled or negative day left by a writer outside the lease shows.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.storage import sqlfiles


def day_state(
    client: Client, cloud_account_id: str, day: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tenant-day's `expenses` rows (sql/queries/expenses_day_state.sql) and its
    breakdown rows (sql/queries/k8s_cost_breakdown_day_state.sql), folded."""
    parameters = {"cloud_account_id": cloud_account_id, "day_start": day_start_epoch(day)}
    expense = client.query_df(sqlfiles.query("expenses_day_state"), parameters=parameters)
    breakdown = client.query_df(
        sqlfiles.query("k8s_cost_breakdown_day_state"), parameters=parameters
    )
    return expense, breakdown
