"""Read back what ClickHouse holds, with the platform's reader rule written out here.

The tests' own SQL on purpose (not the pipeline's `sql/queries`): a reader that
collapses rows per (cloud_account_id, date, resource_id) with SUM(x * sign) and
keeps the keys whose SUM(sign) > 0, as every platform reader does.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from etl.core.config import Settings
from etl.storage.clickhouse import Client, connect
from tests.truth import COST_KEYS


def stored_day(settings: Settings, tenant: str, day: date) -> dict[str, float]:
    """The tenant-day as readers see it: `cost`, every breakdown column, and live row counts."""
    with connect(settings.clickhouse_dsn) as client:
        return read_day(client, tenant, day)


def read_day(client: Client, tenant: str, day: date) -> dict[str, float]:
    """`stored_day` through an open client (one for many tenant-days: each open of an
    embedded directory costs more than the queries)."""
    sums = ", ".join(f"sum({column} * sign) AS {column}" for column in COST_KEYS)
    where = "cloud_account_id = {tenant:String} AND toDate(date) = {day:Date}"
    parameters = {"tenant": tenant, "day": day}
    expense = client.query(
        f"SELECT sum(cost * sign), sum(sign) FROM expenses WHERE {where} "
        "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0",
        parameters=parameters,
    ).result_rows
    breakdown = client.query_df(
        f"SELECT {sums}, sum(sign) AS live_rows FROM k8s_cost_breakdown WHERE {where} "
        "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0",
        parameters=parameters,
    )
    if not expense:
        return {}
    ((cost, expense_rows),) = expense
    record = breakdown.iloc[0].to_dict()
    return {"cost": cost, "expense_rows": expense_rows, **record}


def same_day(stored: dict[str, float]) -> Any:
    """`stored`, to compare a later read with `==`: equal up to float rounding.

    A rerun adds a cancel row and a new row with the same value to the key, and
    ClickHouse adds a key's rows in no fixed order: (x + x + x) - x - x can differ
    from x in the last bit. 1e-12 relative is that bit, far below any cost error.
    """
    return pytest.approx(stored, rel=1e-12, abs=1e-12)


USAGE_COLUMNS = (
    "cpu_request_core_hours",
    "ram_request_byte_hours",
    "cpu_used_core_hours",
    "ram_used_byte_hours",
)


def stored_usage(settings: Settings, tenant: str, day: date) -> list[dict[str, Any]]:
    """The tenant-day's live allocation rows: pod uid and the requested and used hours
    (None where no usage was measured), collapsed like `stored_day`."""
    with connect(settings.clickhouse_dsn) as client:
        return read_usage(client, tenant, day)


def read_usage(client: Client, tenant: str, day: date) -> list[dict[str, Any]]:
    """`stored_usage` through an open client."""
    sums = ", ".join(f"sum({column} * sign) AS {column}" for column in USAGE_COLUMNS)
    return list(
        client.query(
            f"SELECT any(pod_uid) AS pod_uid, {sums} FROM k8s_allocation "
            "WHERE cloud_account_id = {tenant:String} AND toDate(date) = {day:Date} "
            "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0",
            parameters={"tenant": tenant, "day": day},
        ).named_results()
    )
