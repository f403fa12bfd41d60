"""ClickHouse reads of the daily container records (`k8s_container_usage`) for the
right-sizing recommendations (api/query/recommendations.py), which turn them into
requests and savings and hold no query string.

The answer is read from a per-day rollup (sql/schema/023, through
etl/storage/dayrollup.py): the savings page asks for the same 30-day window on every
visit, and collapsing each of the window's row keys again on every request was most
of its time, while a day's part of the answer depends on that day's rows only.
sql/queries/k8s_recommendations_raw.sql stays the definition, from the raw rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import dayrollup, sqlfiles
from etl.storage.clickhouse import StringArray

# Right-sizing per day and container (sql/schema/023): a day's rows change when that
# day's container usage of one of the rollup's clusters is restated.
RECOMMENDATION_DAYS = dayrollup.DayRollup(
    stale_days="recommendation_day_stale",
    compute="recommendation_day_compute",
    markers="recommendation_day_markers",
    tables=("k8s_container_usage",),
)


def refresh_days(client: Client, account_ids: Sequence[str], start: int, end: int) -> str:
    """Compute the rollup of these cluster accounts over the days of [start, end] (Unix
    seconds) that it misses or that were restated since; returns its key. The key
    names the accounts only: the quantiles and the namespaces are chosen when read."""
    accounts = {"cloud_account_ids": StringArray(sorted(account_ids))}
    key = dayrollup.arguments_key(accounts)
    dayrollup.refresh(
        client,
        RECOMMENDATION_DAYS,
        key,
        (start, end),
        accounts,
        lambda first, last: {**accounts, "start_date": first, "end_date": last},
    )
    return key


def recommendation_rows(
    client: Client,
    account_ids: Sequence[str],
    start: int,
    end: int,
    namespaces: Sequence[str],
    cpu_quantile: str,
    memory_quantile: str,
) -> Iterator[dict[str, Any]]:
    """Per (cluster, namespace, controller, container) over [start, end] (Unix seconds),
    the window's usage and what it paid (sql/queries/k8s_recommendations.sql), read from
    the rollup of the window's days, refreshed first."""
    key = refresh_days(client, account_ids, start, end)
    return client.query(
        sqlfiles.query("k8s_recommendations"),
        parameters={
            "rollup_key": key,
            "first_day": start,
            "last_day": end,
            "namespaces": list(namespaces),
            "cpu_quantile": cpu_quantile,
            "memory_quantile": memory_quantile,
        },
    ).named_results()
