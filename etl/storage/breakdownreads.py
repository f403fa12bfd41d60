"""ClickHouse reads of the API's `breakdown_expenses` (api/query/breakdown.py).

The API builds the parameters from the request's scope (api/query/scope.py) and
folds the rows into days and keys; the query files are named and run here only, so
the API holds no query string (tests/unit/test_boundaries.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import sqlfiles
from etl.storage.billrollup import with_rollup


def expense_key_days(client: Client, parameters: Mapping[str, Any]) -> list[tuple[int, str, float]]:
    """(day, key, cost) of every resource in scope (sql/queries/breakdown_expenses_costs.sql):
    the day as Unix seconds of its midnight, the key the account or the `key_*` map's value."""
    return client.query(
        sqlfiles.query("breakdown_expenses_costs"), parameters=with_rollup(client, parameters)
    ).result_rows


def cluster_component_rows(client: Client, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per (day, cluster account, part) the cost of each component
    (sql/queries/breakdown_k8s_components.sql): `part` is `breakdown` (the whole) or
    `idle` (what the `__idle__` rows cost)."""
    return list(
        client.query(
            sqlfiles.query("breakdown_k8s_components"),
            parameters=with_rollup(client, parameters, "cloud_account_ids"),
        ).named_results()
    )
