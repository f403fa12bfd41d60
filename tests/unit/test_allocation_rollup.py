"""Property test: the rollup of k8s_allocation_reconciled answers what the view answers.

Hypothesis draws a history of restatements (etl/storage/warehouse.py, as the pipeline
and the bill import write) over three days: allocation rows, node-days and PV-days of
two cluster accounts and bill rows of the VMs and disks, every cluster-day and bill day
written once, everything read (so every cluster-day is rolled up), then any of them
restated again with other values (an allocation day emptied too: its rows all
cancelled), merges that collapse the cancelled rows away (OPTIMIZE ... FINAL, as a
background merge may), and reads in between, each with a drawn metric column, cluster
accounts, folding, period and filters (namespaces, nodes, Services).
At every read, on the data as it is then:
- the rollup's rows (etl/storage/allocationrollup.py refresh, then sql/schema/019),
  filtered here, are the view's (sql/schema/010) filtered inside;
- k8s_costs' groups by namespace and by node (etl/storage/k8scostreads.py, reading the
  rollup) are the view's rows summed here;
- the budgets' daily spend of a namespace (etl/storage/costreads.py allocation_days) is
  the view's rows of that namespace summed here;
- breakdown_expenses' component split of the clusters (etl/storage/breakdownreads.py
  cluster_component_rows, reading the rollup) is the view's rows summed here per
  cluster-day and component: the filtered rows (part `breakdown`) and their `__idle__`
  ones (part `idle`) when the filters narrow the allocation, the `__idle__` rows alone
  when not (the whole then comes from k8s_cost_breakdown, which this test leaves empty).
Made to skip the recompute of restated cluster-days, the test fails.

The drawn node-days, PV-days and bill rows are test_bill_rollup.py's; examples are drawn
derandomized, each in accounts and bill resources of its own, on one embedded ClickHouse;
every other restatement goes through a second connection (tests/rollup_checks.py
alternating_writers).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.core.components import COMPONENTS
from etl.core.days import day_start_epoch
from etl.core.sharing import SharingPolicy
from etl.costmodel.allocation import ATTRIBUTES, ROW_COLUMNS
from etl.costmodel.allocation.usage import REQUESTED, USED
from etl.storage import allocationrollup, costreads, sqlfiles, warehouse
from etl.storage.allocationgroups import ROW_FILTERS
from etl.storage.breakdownreads import cluster_component_rows
from etl.storage.clickhouse import connect
from etl.storage.k8scostreads import cost_group_rows
from tests.rollup_checks import alternating_writers, history_settings
from tests.unit.test_bill_rollup import (  # everything read, unfiltered: EVERYTHING, NO_FILTER
    ACCOUNTS,
    COLUMNS,
    DAYS,
    EVERYTHING,
    NODES,
    PRICES,
    VOLUMES,
    bill_rows,
    node_rows,
    read_parameters,
    restate,
    volume_rows,
)
from tests.unit.test_bill_rollup import read_arguments as bill_read_arguments

NAMESPACES = ("web", "data")
SERVICES = ("svc-a", "svc-b")
EXAMPLES = itertools.count()
EXAMPLES_SHARE = 0.5  # of the profile's (tests/rollup_checks.py)
NO_FILTER: tuple[list[str], list[str], list[str]] = ([], [], [])
# The rows a cluster-day may hold, by key: a key names its row's content (sql/schema/003),
# so the names are the key's and only the values are drawn. The pods' keys are the
# PV holders' of test_bill_rollup.py (`pod-x`, `<pv>/__unmounted__`), so disks price them.
POSSIBLE_ROWS = {
    **{
        f"pod-{name}-{node}": {
            "namespace": namespace,
            "controller_kind": "Deployment",
            "controller": f"{namespace}-app",
            "pod": f"pod-{name}",
            "pod_uid": f"uid-{name}-{node}",
            "node": node,
            "labels": {"team": namespace},
            "services": [SERVICES[len(name) % 2]],
        }
        for name, namespace in (("x", "web"), ("yy", "data"))
        for node in NODES
    },
    **{
        f"{node}/__idle__": {"namespace": "__idle__", "node": node, "pod": f"{node}/__idle__"}
        for node in NODES
    },
    **{
        f"{volume}/__unmounted__": {"namespace": "__unmounted__", "pod": f"{volume}/__unmounted__"}
        for volume in VOLUMES
    },
}
# The view's columns in one order, as both sides are read.
READ_COLUMNS = [
    "cloud_account_id",
    "date",
    "resource_id",
    *(name for name in ATTRIBUTES if name != "price_flag"),
    *COMPONENTS,
    "cost",
    "list_cost",
    *REQUESTED,
    *USED,
]
# k8s_costs' other filters and a token's scope, none drawn (test_filters.py has them).
UNUSED_FILTERS = tuple(
    name for name in ROW_FILTERS if name not in ("namespaces", "nodes", "services")
)
USAGE = st.one_of(st.none(), st.sampled_from([0.0, 1.5, 12.0]))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('allocation-rollup') / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def allocation_rows(draw: st.DrawFn) -> pd.DataFrame:
    """A cluster-day's rows: some of POSSIBLE_ROWS with drawn values (none: the day
    emptied, its rows cancelled)."""
    keys = draw(st.lists(st.sampled_from(sorted(POSSIBLE_ROWS)), unique=True, max_size=5))
    rows = []
    for key in keys:
        names = POSSIBLE_ROWS[key]
        components = {name: draw(PRICES) for name in COMPONENTS}
        rows.append(
            {
                "resource_id": key,
                "namespace": names["namespace"],
                "controller_kind": names.get("controller_kind", ""),
                "controller": names.get("controller", ""),
                "pod": names["pod"],
                "pod_uid": names.get("pod_uid", ""),
                "node": names.get("node", ""),
                "labels": names.get("labels", {}),
                "namespace_labels": {"tier": "gold"},
                "services": names.get("services", []),
                "price_flag": "",
                "running_hours": 24.0,
                "cpu_core_hours": 1.0,
                "ram_gib_hours": 1.0,
                "gpu_hours": 0.0,
                "cpu_request_core_hours": draw(PRICES),
                "ram_request_byte_hours": draw(PRICES),
                "cpu_used_core_hours": draw(USAGE),
                "ram_used_byte_hours": draw(USAGE),
                **components,
                "cost": sum(components.values()),
            }
        )
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def write(draw: st.DrawFn, kind: str, account: str, day: int) -> tuple:
    drawn = {
        "allocation": allocation_rows,
        "nodes": node_rows,
        "volumes": volume_rows,
        "bill": bill_rows,
    }[kind]
    return (kind, account, day, drawn(draw))


def read_arguments(draw: st.DrawFn) -> tuple:
    """test_bill_rollup.py's read (metric, clusters, folding, period) and filters."""
    return (
        *bill_read_arguments(draw),
        (
            draw(st.lists(st.sampled_from([*NAMESPACES, "__idle__"]), unique=True, max_size=2)),
            draw(st.lists(st.sampled_from(NODES), unique=True, max_size=2)),
            draw(st.lists(st.sampled_from(SERVICES), unique=True, max_size=1)),
        ),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[tuple]:
    """Every cluster-day and bill day written, everything read (every cluster-day
    rolled up), then restatements, merges and reads in any order."""
    kinds = ["allocation", "nodes", "volumes"]
    steps = [
        write(draw, kind, account, day)
        for day in range(len(DAYS))
        for kind, account in [(k, a) for k in kinds for a in ACCOUNTS] + [("bill", "aws")]
    ]
    steps.append(("read", *EVERYTHING, NO_FILTER))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from([*kinds, "bill", "merge", "read"]))
        if kind == "read":
            steps.append((kind, *read_arguments(draw)))
        elif kind == "merge":
            steps.append((kind,))
        else:
            account = "aws" if kind == "bill" else draw(st.sampled_from(ACCOUNTS))
            steps.append(write(draw, kind, account, draw(st.integers(0, len(DAYS) - 1))))
    return steps


def comparable(frame: pd.DataFrame) -> list[tuple]:
    """The rows in one order, maps and arrays as sorted tuples, each amount to 1e-9
    dollars (the view sums in no set order: two runs of it may differ in the last bit)."""

    def value(v: object) -> object:
        if isinstance(v, dict):
            return tuple(sorted(v.items()))
        if isinstance(v, list):
            return tuple(sorted(v))
        if isinstance(v, float):
            return None if math.isnan(v) else round(v, 9)
        return v

    return sorted(tuple(value(v) for v in row) for row in frame.itertuples(index=False))


def kept(frame: pd.DataFrame, filters: tuple[list[str], list[str], list[str]]) -> pd.DataFrame:
    """The rows the filters keep, an empty filter keeping all (docs/api.md)."""
    namespaces, nodes, services = filters
    keep = [
        (not namespaces or row.namespace in namespaces)
        and (not nodes or row.node in nodes)
        and (not services or bool(set(row.services) & set(services)))
        for row in frame.itertuples()
    ]
    return frame[keep] if len(frame) else frame


def summed(frame: pd.DataFrame, key) -> dict:
    totals: dict = defaultdict(float)
    for row in frame.itertuples():
        totals[key(row)] += row.cost
    return {k: round(v, 9) for k, v in totals.items()}


def view_rows(client, parameters: dict, filters: tuple[list[str], ...]) -> pd.DataFrame:
    """The view's rows (sql/schema/010), its filters applied inside."""
    namespaces, nodes, services = filters
    return client.query_df(
        f"SELECT {', '.join(READ_COLUMNS)} FROM k8s_allocation_reconciled("
        "cloud_account_ids = {cloud_account_ids:Array(String)}, "
        "start_date = {start_date:UInt32}, end_date = {end_date:UInt32}, "
        "namespaces = {namespaces:Array(String)}, nodes = {nodes:Array(String)}, "
        "services = {services:Array(String)}, "
        "bill_resource_ids = {bill_resource_ids:Array(String)}, "
        "bill_instance_keys = {bill_instance_keys:Array(String)}, "
        "cost_column = {cost_column:String})",
        parameters={**parameters, "namespaces": namespaces, "nodes": nodes, "services": services},
    )


def check_read(client, prefix: str, arguments: tuple) -> None:
    *bill_read, filters = arguments
    read = read_parameters(prefix, tuple(bill_read))
    parameters = {
        "cloud_account_ids": read["cluster_account_ids"],
        "start_date": read["first_day"],
        "end_date": read["last_day"],
        **{name: read[name] for name in allocationrollup.BILL_ARGUMENTS},
    }
    first, last = (DAYS[index] for index in bill_read[4:6])
    every_row = view_rows(client, parameters, NO_FILTER)
    filtered = view_rows(client, parameters, filters)
    assert comparable(kept(every_row, filters)) == comparable(filtered)

    refreshed = allocationrollup.with_rollup(
        client,
        parameters,
        parameters["cloud_account_ids"],
        parameters["start_date"],
        parameters["end_date"],
    )
    rollup = client.query_df(
        f"SELECT {', '.join(READ_COLUMNS)} FROM k8s_allocation_rollup("
        "rollup_key = {allocation_key:String}, "
        "cloud_account_ids = {cloud_account_ids:Array(String)}, "
        "start_date = {start_date:UInt32}, end_date = {end_date:UInt32})",
        parameters=refreshed,
    )
    assert comparable(rollup) == comparable(every_row)

    namespaces, nodes, services = filters
    for group_by in ("namespace", "node"):
        groups = cost_group_rows(
            client,
            {
                **parameters,
                "group_by": group_by,
                "namespaces": namespaces,
                "nodes": nodes,
                "services": services,
                **{name: [] for name in UNUSED_FILTERS},
            },
            SharingPolicy(),
        )
        # k8s_costs' group of a row (sql/include/k8s_costs_grouping.sql): a node-less
        # row's node group is its namespace
        expected = summed(filtered, lambda row, by=group_by: getattr(row, by) or row.namespace)
        assert {group["group_key"]: round(group["cost"], 9) for group in groups} == expected

    namespace = namespaces[0] if namespaces else ""
    daily = costreads.allocation_days(
        client, parameters["cloud_account_ids"], first, last, parameters, namespace
    )
    in_budget = every_row
    if namespace and not every_row.empty:
        in_budget = every_row[every_row["namespace"] == namespace]
    expected = summed(in_budget, lambda row: (row.cloud_account_id, row.date.date()))
    assert {key: round(cost, 9) for key, cost in daily.items()} == expected

    check_component_split(client, parameters, filters, filtered, True)
    idle_only = (["__idle__"], [], [])
    check_component_split(client, parameters, idle_only, kept(every_row, idle_only), False)


def component_parts(rows: pd.DataFrame) -> dict:
    """The view's rows summed per (part, cluster account, day) and component: every
    row in part `breakdown` (when it is read at all), the `__idle__` rows in `idle`."""
    parts: dict = defaultdict(lambda: dict.fromkeys(COMPONENTS, 0.0))
    for row in rows.itertuples():
        for part in ("breakdown", "idle") if row.namespace == "__idle__" else ("breakdown",):
            sums = parts[(part, row.cloud_account_id, row.date.date())]
            for name in COMPONENTS:
                sums[name] += getattr(row, name)
    return {key: {name: round(v, 9) for name, v in sums.items()} for key, sums in parts.items()}


def check_component_split(
    client, parameters: dict, filters: tuple[list[str], ...], rows: pd.DataFrame, narrowed: bool
) -> None:
    """breakdown_k8s_components.sql on the rollup equals `rows` (the view's, filtered)
    summed per part, cluster-day and component; without `narrowed` (no allocation
    filter: breakdown_expenses then reads the `__idle__` rows only) part `idle` alone."""
    namespaces, nodes, services = filters
    answer = cluster_component_rows(
        client,
        {
            **parameters,
            "from_allocation": narrowed,
            "namespaces": namespaces,
            "nodes": nodes,
            "services": services,
            **{name: [] for name in UNUSED_FILTERS},
        },
    )
    expected = component_parts(rows)
    if not narrowed:
        expected = {key: sums for key, sums in expected.items() if key[0] == "idle"}
    assert {
        (
            row["part"],
            row["cloud_account_id"],
            datetime.fromtimestamp(row["day"], UTC).date(),
        ): {name: round(row[name], 9) for name in COMPONENTS}
        for row in answer
    } == expected


def restated(client, prefix: str, step: tuple) -> None:
    kind, account, day, rows = step
    if kind == "allocation":
        warehouse.restate_day(client, "k8s_allocation", prefix + account, DAYS[day], rows)
    else:
        restate(client, prefix, step)


@history_settings(EXAMPLES_SHARE)
@given(history=histories())
def test_the_rollup_answers_what_the_view_answers_under_restatement(client, history):
    prefix = f"x{next(EXAMPLES)}-"
    with alternating_writers(client) as writers:
        for step in history:
            if step[0] == "read":
                check_read(client, prefix, step[1:])
            elif step[0] == "merge":
                client.command("OPTIMIZE TABLE k8s_allocation FINAL")
            else:
                restated(next(writers), prefix, step)
    for column in COLUMNS:
        check_read(client, prefix, (column, *EVERYTHING[1:], NO_FILTER))


def test_a_read_after_a_restatement_sees_it(client):
    """The plain case the property draws among others, spelled out: a cluster-day read,
    restated, and read again answers its new rows, not its first compute's."""
    day = DAYS[0]
    rows = pd.DataFrame([{"resource_id": "r", "namespace": "web", "cpu_cost": 2.0, "cost": 2.0}])
    warehouse.restate_day(client, "k8s_allocation", "plain", day, rows)
    read = {
        "bill_resource_ids": [],
        "bill_instance_keys": [],
        "cost_column": "cost",
    }

    def total() -> float:
        return sum(costreads.allocation_days(client, ["plain"], day, day, read).values())

    assert total() == 2.0
    warehouse.restate_day(client, "k8s_allocation", "plain", day, rows.assign(cost=5.0))
    assert total() == 5.0
    warehouse.restate_day(client, "k8s_allocation", "plain", day, rows.iloc[:0])
    client.command("OPTIMIZE TABLE k8s_allocation FINAL")
    assert total() == 0.0


def test_a_row_that_lost_its_usage_reads_null_before_and_after_a_merge(client):
    """A row restated from measured usage to none has no usage (efficiency unknown, not
    0): the view and its rollup read null, not the 0.0 its cancelled rows sum to, before
    and after a merge collapses them (sql/include/macros.sql `live_value`)."""
    day = DAYS[0]
    measured = pd.DataFrame(
        [
            {
                "resource_id": "r",
                "namespace": "web",
                "cpu_cost": 2.0,
                "cost": 2.0,
                "cpu_request_core_hours": 24.0,
                "cpu_used_core_hours": 6.0,
                "ram_used_byte_hours": 2.0**33,
            }
        ]
    )
    warehouse.restate_day(client, "k8s_allocation", "unmeasured", day, measured)
    unmeasured = measured.assign(cpu_used_core_hours=None, ram_used_byte_hours=None)
    warehouse.restate_day(client, "k8s_allocation", "unmeasured", day, unmeasured)
    parameters = {
        "cloud_account_ids": ["unmeasured"],
        "start_date": day_start_epoch(day),
        "end_date": day_start_epoch(day),
        "bill_resource_ids": [],
        "bill_instance_keys": [],
        "cost_column": "cost",
    }

    def usage() -> list[tuple]:
        view = view_rows(client, parameters, NO_FILTER)
        refreshed = allocationrollup.with_rollup(
            client, parameters, ["unmeasured"], parameters["start_date"], parameters["end_date"]
        )
        rollup = client.query_df(
            "SELECT cpu_used_core_hours, ram_used_byte_hours FROM k8s_allocation_rollup("
            "rollup_key = {allocation_key:String}, "
            "cloud_account_ids = {cloud_account_ids:Array(String)}, "
            "start_date = {start_date:UInt32}, end_date = {end_date:UInt32})",
            parameters=refreshed,
        )
        return comparable(view[list(USED)]) + comparable(rollup)

    assert usage() == [(None, None), (None, None)]
    client.command("OPTIMIZE TABLE k8s_allocation FINAL")
    assert usage() == [(None, None), (None, None)]


class WithoutMarkers:
    """A client whose computes stop before their markers, as a process that dies
    between its compute's rows and its markers (etl/storage/allocationrollup.py)."""

    def __init__(self, client) -> None:
        self.client = client

    def query(self, *arguments, **options):
        return self.client.query(*arguments, **options)

    def command(self, statement: str, parameters: dict) -> None:
        if statement != sqlfiles.query("allocation_rollup_markers"):
            self.client.command(statement, parameters=parameters)


def test_a_compute_without_its_markers_is_not_read(client):
    day = DAYS[1]
    rows = pd.DataFrame([{"resource_id": "r", "namespace": "web", "cpu_cost": 2.0, "cost": 2.0}])
    bill = {"bill_resource_ids": [], "bill_instance_keys": [], "cost_column": "cost"}
    first = last = day_start_epoch(day)

    def rolled_up(key: str) -> float:
        return client.query(
            "SELECT sum(cost) FROM k8s_allocation_rollup(rollup_key = {key:String}, "
            "cloud_account_ids = ['unfinished'], start_date = {day:UInt32}, "
            "end_date = {day:UInt32})",
            parameters={"key": key, "day": first},
        ).result_rows[0][0]

    warehouse.restate_day(client, "k8s_allocation", "unfinished", day, rows)
    key = allocationrollup.refresh(client, ["unfinished"], first, last, bill)
    assert rolled_up(key) == 2.0
    warehouse.restate_day(client, "k8s_allocation", "unfinished", day, rows.assign(cost=7.0))
    unfinished = allocationrollup.refresh(WithoutMarkers(client), ["unfinished"], first, last, bill)
    assert unfinished == key
    assert rolled_up(key) == 2.0  # the finished compute's, not both computes' rows
    allocationrollup.refresh(client, ["unfinished"], first, last, bill)
    assert rolled_up(key) == 7.0
