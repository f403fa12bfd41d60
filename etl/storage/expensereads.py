"""ClickHouse reads of the `clean_expenses` answer (api/query/): one function per query file.

Kept with the other storage code so that the API holds no query string: it builds
what a request asks (api/query/scope.py), these run it. The arguments that only
shape a shared query for this answer (the `k8s_costs` queries grouped by cluster or
summed per cluster, without their group filters) are fixed here, beside the files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from etl.core.sharing import SharingPolicy
from etl.storage import dayrollup, sqlfiles
from etl.storage.billrollup import BILL_ADJUSTMENTS, with_rollup
from etl.storage.k8scostreads import cost_group_rows

# clean_expenses' resources costed over a period (sql/schema/021): stale when any day of
# the period was restated in a table the costing reads (the bill adjustments' inputs,
# expenses among them: etl/storage/billrollup.py).
CLEAN_EXPENSE_PERIODS = dayrollup.DayRollup(
    stale_days="clean_expense_period_stale",
    compute="clean_expense_period_compute",
    markers="clean_expense_period_markers",
    tables=BILL_ADJUSTMENTS.tables,
)
# The page: not part of the rollup's arguments, so every page of a period reads one rollup.
PAGE = ("limit", "offset")


def clean_expense_costs(client: Client, parameters: Mapping[str, Any]) -> pa.Table:
    """The items, totals, breakdowns and folded nodes of one request
    (sql/queries/clean_expenses_costs.sql; `parameters`: api/query/scope.py
    cost_parameters), as Arrow columns: no Python object per row.

    Ranked from the rollup of the period's costed resources (sql/schema/021), computed
    first when missing or restated since: the dashboard's table asks for pages of the
    same period on every visit."""
    key = dayrollup.arguments_key(
        {name: value for name, value in parameters.items() if name not in PAGE}
    )
    period = (parameters["start_date"], parameters["end_date"])
    dayrollup.refresh(
        client,
        CLEAN_EXPENSE_PERIODS,
        key,
        period,
        {},
        lambda _first, _last: with_rollup(client, parameters),
    )
    text = sqlfiles.query("clean_expense_periods")
    return client.query_arrow(
        text,
        parameters=sqlfiles.named_parameters(
            text,
            {**parameters, "rollup_key": key, "first_day": period[0], "last_day": period[0]},
        ),
    )


@dataclass(frozen=True)
class ClusterRows:
    """The allocation rows a `k8s_costs` query reads for clean_expenses: those of these
    cluster accounts over [start, end] (Unix seconds) that the request's allocation
    filters keep (`filter_parameters`), their nodes and PVs priced from the bill by
    `bill` (api/query/metric.py: reconciliation)."""

    account_ids: Sequence[str]
    start: int
    end: int
    filter_parameters: Mapping[str, Any]
    bill: Mapping[str, Any]

    def parameters(self, shape: Mapping[str, Any]) -> dict[str, Any]:
        """The query's arguments: `shape` (its grouping, and the group filters it applies
        when the request's filters name none) before the request's filters."""
        return {
            "cloud_account_ids": list(self.account_ids),
            "start_date": self.start,
            "end_date": self.end,
            **shape,
            **self.filter_parameters,
            **self.bill,
        }


def cluster_allocation_costs(client: Client, rows: ClusterRows) -> list[dict[str, Any]]:
    """Per cluster account (`group_key`): the components and `cost` of its `rows`
    (the unshared `k8s_costs` groups by cluster); a cluster without any is absent."""
    return list(cost_group_rows(client, rows.parameters({"group_by": "cluster"}), SharingPolicy()))


def shared_cluster_sums(
    client: Client, rows: ClusterRows, policy: SharingPolicy, columns: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per cluster account: the sums of `columns` over its `rows` as the shared
    `k8s_costs` query spreads them by `policy`, per cluster; a cluster without any is
    absent."""
    shape = {"group_by": "namespace", "controllers": [], "label_keys": [], "label_values": []}
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in cost_group_rows(client, rows.parameters(shape), policy, per_cluster=True):
        cluster = sums[row["cloud_account_id"]]
        for column in columns:
            cluster[column] += row[column]
    return {account: dict(values) for account, values in sums.items()}
