"""ClickHouse reads of the daily container records (`k8s_container_usage`) for the
right-sizing recommendations (api/query/recommendations.py), which turn them into
requests and savings and hold no query string.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import sqlfiles


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
    the window's usage and what it paid (sql/queries/k8s_recommendations.sql)."""
    return client.query(
        sqlfiles.query("k8s_recommendations"),
        parameters={
            "cloud_account_ids": list(account_ids),
            "start_date": start,
            "end_date": end,
            "namespaces": list(namespaces),
            "cpu_quantile": cpu_quantile,
            "memory_quantile": memory_quantile,
        },
    ).named_results()
