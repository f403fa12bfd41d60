"""ClickHouse reads of the allocation grouped (`k8s_costs`, api/routes/k8s_costs.py).

The API builds the scope's parameters; the sharing policy adds its own
(etl/core/sharing.py) and picks the query: sql/queries/k8s_costs_shared.sql spreads
the shared costs, sql/queries/k8s_costs_groups.sql answers unshared, and an unshared,
unfiltered coarse grouping reads the groups stored per cluster-day instead
(etl/storage/allocationgroups.py: the same answer from fewer rows). Which file runs
is decided here, so the API holds no query string (tests/unit/test_boundaries.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.core.sharing import SharingPolicy
from etl.storage import allocationgroups, allocationrollup, sqlfiles
from etl.storage.clickhouse import StringArray


def cost_group_rows(
    client: Client,
    parameters: Mapping[str, Any],
    policy: SharingPolicy,
    per_cluster: bool = False,
) -> Iterator[dict[str, Any]]:
    """The rows of the groups, streamed: with an active `policy`, each group's kept
    components and what each sharing rule gave it (`per_cluster`: every cluster's
    groups apart, as clean_expenses costs its cluster items); without, the unshared
    components and the exporter's `list_cost`. The rows are read from the allocation's
    rollup (etl/storage/allocationrollup.py), refreshed for the period first."""
    accounts = parameters["cloud_account_ids"]
    if not isinstance(accounts, StringArray):  # formatted once, read by two queries
        accounts = StringArray(accounts)
    parameters = {**parameters, "cloud_account_ids": accounts}
    grouping = None if policy.active else allocationgroups.stored_grouping(parameters)
    if grouping is not None:
        return allocationgroups.group_rows(client, parameters, grouping)
    parameters = allocationrollup.with_rollup(
        client, parameters, accounts, parameters["start_date"], parameters["end_date"]
    )
    if not policy.active:
        return client.query(
            sqlfiles.query("k8s_costs_groups"), parameters=dict(parameters)
        ).named_results()
    return client.query(
        sqlfiles.query("k8s_costs_shared"),
        parameters={**parameters, **policy.sql_parameters(per_cluster)},
    ).named_results()
