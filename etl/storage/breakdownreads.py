"""ClickHouse reads of the API's `breakdown_expenses` (api/query/breakdown.py).

The API builds the parameters from the request's scope (api/query/scope.py) and
folds the rows into days and keys; the query files are named and run here only, so
the API holds no query string (tests/unit/test_boundaries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import allocationrollup, dayrollup, sqlfiles
from etl.storage.billrollup import BILL_ADJUSTMENTS, with_rollup
from etl.storage.clickhouse import StringArray

PERIOD = ("start_date", "end_date")


# breakdown_expenses_costs.sql per day (sql/schema/020): its rows of a day change when
# that day's expenses (the rows, the clusters' live days) or the bill adjustments' inputs
# (etl/storage/billrollup.py) are restated.
EXPENSE_KEY_DAYS = dayrollup.DayRollup(
    stale_days="breakdown_expense_stale_days",
    compute="breakdown_expense_compute",
    markers="breakdown_expense_markers",
    tables=BILL_ADJUSTMENTS.tables,
)


def expense_key_days(client: Client, parameters: Mapping[str, Any]) -> list[tuple[int, str, float]]:
    """(day, key, cost) of every resource in scope (sql/queries/breakdown_expenses_costs.sql):
    the day as Unix seconds of its midnight, the key the account or the `key_*` map's value.

    Read from the query's rollup (sql/schema/020), its missing or restated days
    computed first: the dashboard asks for the same two 30-day periods on every visit."""
    period = (parameters["start_date"], parameters["end_date"])
    arguments = {name: value for name, value in parameters.items() if name not in PERIOD}
    key = dayrollup.arguments_key(arguments)

    def span(first: int, last: int) -> dict[str, Any]:
        return with_rollup(client, {**arguments, "start_date": first, "end_date": last})

    dayrollup.refresh(client, EXPENSE_KEY_DAYS, key, period, {}, span)
    return client.query(
        sqlfiles.query("breakdown_expense_days"),
        parameters={"rollup_key": key, "first_day": period[0], "last_day": period[1]},
    ).result_rows


def cluster_component_rows(client: Client, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per (day, cluster account, part) the cost of each component and `cost`
    (sql/queries/breakdown_k8s_components.sql): `part` is `breakdown` (the whole),
    `idle` (what the `__idle__` rows cost) or `cost` (the expense rows).

    Both rollups are refreshed for the period first: the bill adjustments' (which
    takes the bill arguments) and then the allocation's (which replaces them by its
    key)."""
    accounts = StringArray(parameters["cloud_account_ids"])  # formatted once, read thrice
    parameters = with_rollup(
        client, {**parameters, "cloud_account_ids": accounts}, "cloud_account_ids"
    )
    period = (parameters["start_date"], parameters["end_date"])
    rollup = allocationrollup.with_rollup(client, parameters, accounts, *period)
    # the metric's column, which the rollup's key stands for, read again by part `cost`
    rollup["cost_column"] = parameters["cost_column"]
    return list(
        client.query(sqlfiles.query("breakdown_k8s_components"), parameters=rollup).named_results()
    )
