"""ClickHouse reads of the `expenses` table for the cloud bill import (etl/bills/load.py),
which restates what they name and holds no query string, and for the API's bills.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.storage import sqlfiles
from etl.storage.clickhouse import StringArray


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


def bill_totals(
    client: Client,
    cloud_account_ids: StringArray,
    billing_periods: Iterable[int],
    resource_ids: StringArray | None,
) -> list[dict[str, Any]]:
    """Per (account, billing period: YYYYMM) of these periods, the live resources charged
    (`item_count`) and their `billed_cost`, `effective_cost` and `list_cost`
    (sql/queries/bills_totals.sql); `resource_ids`: only those (None: every one)."""
    return list(
        client.query(
            sqlfiles.query("bills_totals"),
            parameters={
                "cloud_account_ids": cloud_account_ids,
                "billing_periods": sorted(billing_periods),
                "all_resources": resource_ids is None,
                "resource_ids": resource_ids or StringArray(()),
            },
        ).named_results()
    )
