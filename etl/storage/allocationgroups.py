"""The k8s_costs groups stored per cluster-day (sql/schema/024, 025), for the requests
that need no allocation row: unshared and unfiltered, grouped by namespace, controller,
node or cluster (or several of them), with or without the chart's days.

Why: such a request (the allocation page's table and chart, as it opens) summed every
allocation row of the period from the allocation's rollup (etl/storage/allocationrollup.py),
a row per pod and day, computing each row's group on the way; its groups per
cluster-day are a few rows each, summed once. A pod or label grouping (as many groups
as rows, or a key per label asked), a filter (on rows' names, labels and Services) or
sharing (spread per row, k8s_costs_shared.sql) still reads the allocation rows.

Exact: each group's sums are stored as their integer units and the part beyond the
bound (sql/include/macros.sql `exact_parts`), which add up to the units of the rows
themselves, so the answer is the one k8s_costs_groups.sql gives, to the bit. Fresh:
a cluster-day is derived from the allocation rollup's latest compute of it and
computed again when the allocation rollup holds a newer one; the allocation rollup is
refreshed first, so the groups follow every restatement it does: the stale-days query
compares the two rollups' markers directly. The refresh is gated on the warehouse's
write count like the other rollups' (etl/storage/rollupgate.py), the allocation rollup
refreshed again inside the gate (`group_rows` says why).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import allocationrollup, dayrollup, rollupgate, sqlfiles

# The groupings whose groups per cluster-day are stored: few groups a cluster-day.
COARSE_PARTS = ("namespace", "controller", "node", "cluster")
# The grouping part of the chart's days (api/query/series.py DAY_PART).
DAY_PART = "day"
# The row filters and a token's scope (sql/include/macros.sql `allocation_filters`,
# `allocation_row_filters`): any of them set, the request reads the rows.
ROW_FILTERS = (
    "namespaces",
    "nodes",
    "services",
    "controllers",
    "label_keys",
    "label_values",
    "scope_namespaces",
    "scope_label_keys",
    "scope_label_values",
)


def stored_grouping(parameters: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(the grouping stored, per day) that answers these k8s_costs parameters, or None
    when the request needs the allocation rows (a filter, a pod or label part)."""
    if any(parameters.get(name) for name in ROW_FILTERS):
        return None
    parts = str(parameters["group_by"]).split(",")
    per_day = parts[-1] == DAY_PART
    if per_day:
        parts = parts[:-1]
    if not parts or any(part not in COARSE_PARTS for part in parts):
        return None
    return ",".join(parts), per_day


def _compute_stale(client: Client, refreshed: Mapping[str, Any], key: str, group_by: str) -> None:
    """Compute the groups of the cluster-days the allocation rollup (under the
    `allocation_key` of `refreshed`, refreshed) holds newer than these groups."""
    period = {name: refreshed[name] for name in ("cloud_account_ids", "start_date", "end_date")}
    stale = client.query(
        sqlfiles.query("allocation_group_stale_days"),
        parameters={**period, "rollup_key": key, "allocation_key": refreshed["allocation_key"]},
    ).result_rows
    if stale:
        compute = allocationrollup.stale_compute(key, stale)
        client.command(
            sqlfiles.query("allocation_group_compute"),
            parameters={
                **compute,
                **allocationrollup.stale_span(stale),
                "allocation_key": refreshed["allocation_key"],
                "group_by": group_by,
            },
        )
        client.command(sqlfiles.query("allocation_group_markers"), parameters=compute)


def group_rows(
    client: Client, parameters: Mapping[str, Any], grouping: tuple[str, bool]
) -> Iterator[dict[str, Any]]:
    """k8s_costs_groups.sql's rows for a reader's `parameters` (with the bill's
    arguments, as allocationrollup.with_rollup takes them) from the stored groups of
    `grouping` (`stored_grouping`), both rollups refreshed first.

    The groups' refresh is gated (etl/storage/rollupgate.py) and refreshes the
    allocation rollup again inside: its own gate's count is read before that, so the
    allocation rows it derives from hold every restatement of that count."""
    group_by, per_day = grouping
    accounts = parameters["cloud_account_ids"]
    period = (parameters["start_date"], parameters["end_date"])

    def allocation() -> dict[str, Any]:
        return allocationrollup.with_rollup(client, parameters, accounts, *period)

    refreshed = allocation()
    key = dayrollup.arguments_key(
        {"allocation_key": refreshed["allocation_key"], "group_by": group_by}
    )
    gate = (
        "allocation_group_stale_days",
        key,
        period,
        dayrollup.arguments_key({"cloud_account_ids": accounts}),
    )
    rollupgate.refresh_unless_current(
        client, gate, lambda: _compute_stale(client, allocation(), key, group_by)
    )
    return client.query(
        sqlfiles.query("k8s_costs_group_days"),
        parameters={
            "rollup_key": key,
            "per_day": int(per_day),
            **{name: refreshed[name] for name in ("cloud_account_ids", "start_date", "end_date")},
        },
    ).named_results()
