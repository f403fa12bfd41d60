"""ClickHouse reads of the `expenses` table for the cloud bill import (etl/bills/load.py),
which restates what they name and holds no query string.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.storage import sqlfiles


def live_days(
    client: Client,
    cloud_account_ids: Iterable[str],
    billing_periods: Iterable[date],
    first_day: date,
    last_day: date,
) -> list[tuple[str, date, date]]:
    """The (account, billing period, day)s holding live rows of these periods, or rows
    without a period between the two days (sql/queries/expenses_live_days.sql)."""
    return client.query(
        sqlfiles.query("expenses_live_days"),
        parameters={
            "cloud_account_ids": sorted(cloud_account_ids),
            "billing_periods": sorted(billing_periods),
            "first_day": day_start_epoch(first_day),
            "last_day": day_start_epoch(last_day),
        },
    ).result_rows
