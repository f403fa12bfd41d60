"""Property test: the rollup of cluster_bill_adjustments answers what the view answers.

Hypothesis draws a history of restatements (etl/storage/warehouse.py, as the pipeline
and the bill import write) over three days: node-days and PV-days of two cluster
accounts and bill rows of the VMs and disks, every cluster-day and bill day written
once, everything read (so every day is rolled up), then any of them restated again
with other values (a PV-day emptied too), with reads in between, each with a drawn
metric column, cluster accounts, folding (which bill resources are folded) and period.
At every read, the rollup (etl/storage/billrollup.py refresh, then sql/schema/017) must
hold the view's rows (sql/schema/014, through sql/queries/cluster_bill_adjustments.sql)
on the data as it is then: days computed before and restated since are computed again,
the others reused. A final read of everything in each metric follows the last write.
Made to skip the recompute of restated days, the test fails.

Examples are drawn derandomized (the same on every run and machine), each in accounts
and bill resources of its own, on one embedded ClickHouse; every other restatement goes
through a second connection (tests/rollup_checks.py alternating_writers).
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.core.days import day_start_epoch
from etl.storage import billrollup, nodedays, pvdays, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from tests.rollup_checks import alternating_writers, history_settings, replay

EXAMPLES_SHARE = 0.8  # of the profile's (tests/rollup_checks.py): its reads are cheap
DAYS = [date(2025, 3, 1) + timedelta(days=n) for n in range(3)]
ACCOUNTS = ("k8s-a", "k8s-b")
NODES = ("node-0", "node-1", "node-2")
VOLUMES = ("pv-0", "pv-1")
INSTANCES = 3  # VMs i-0..i-2 and disks vol-0..vol-2 in the bill
PRICES = st.sampled_from([0.0, 0.25, 1.5, 3.0])
COLUMNS = ("cost", "effective_cost", "list_cost")
EXAMPLES = itertools.count()
# A read of every account, folded VM and disk and day, in the billed cost.
EVERYTHING = ("cost", list(ACCOUNTS), range(INSTANCES), range(INSTANCES), 0, len(DAYS) - 1)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('rollup') / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def node_rows(draw: st.DrawFn) -> pd.DataFrame:
    nodes = draw(st.lists(st.sampled_from(NODES), unique=True, min_size=1, max_size=3))
    return pd.DataFrame(
        [
            {
                "node": node,
                "provider_id": f"aws:///zone/i-{draw(st.integers(0, INSTANCES))}",
                "cpu_list_usd": draw(PRICES),
                "ram_list_usd": draw(PRICES),
                "gpu_list_usd": draw(PRICES),
                "hours": 24.0,
                "cpu_model_share": 0.7,
                "ram_model_share": 0.3,
                "gpu_model_share": 0.0,
            }
            for node in nodes
        ],
        columns=[
            "node",
            "provider_id",
            "cpu_list_usd",
            "ram_list_usd",
            "gpu_list_usd",
            "hours",
            "cpu_model_share",
            "ram_model_share",
            "gpu_model_share",
        ],
    )


def volume_rows(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for volume in draw(st.lists(st.sampled_from(VOLUMES), unique=True, max_size=2)):
        provider_id = f"aws://zone/vol-{draw(st.integers(0, INSTANCES))}"
        rows.append([volume, provider_id, f"{volume}/__unmounted__", "unmounted", draw(PRICES)])
        if draw(st.booleans()):
            rows.append([volume, provider_id, "pod-x", "pod", draw(PRICES)])
    return pd.DataFrame(
        rows, columns=["persistentvolume", "provider_id", "holder", "holder_kind", "list_usd"]
    )


def bill_rows(draw: st.DrawFn) -> pd.DataFrame:
    resources = [f"{kind}-{n}" for kind in ("vm", "disk") for n in range(INSTANCES)]
    chosen = draw(st.lists(st.sampled_from(resources), unique=True, min_size=2))
    return pd.DataFrame(
        [{"resource_id": r, **{c: draw(PRICES) for c in COLUMNS}} for r in chosen],
        columns=["resource_id", *COLUMNS],
    )


def write(draw: st.DrawFn, kind: str, account: str, day: int) -> tuple:
    rows = {"nodes": node_rows, "volumes": volume_rows, "bill": bill_rows}[kind](draw)
    return (kind, account, day, rows)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple]:
    """Every cluster-day and bill day written, everything read (every day rolled up),
    then restatements and reads in any order."""
    steps = [
        write(draw, kind, account, day)
        for day in range(len(DAYS))
        for kind, account in [("nodes", a) for a in ACCOUNTS]
        + [("volumes", a) for a in ACCOUNTS]
        + [("bill", "aws")]
    ]
    steps.append(("read", *EVERYTHING))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["nodes", "volumes", "bill", "read"]))
        day = draw(st.integers(0, len(DAYS) - 1))
        if kind == "read":
            steps.append((kind, *read_arguments(draw)))
        else:
            account = "aws" if kind == "bill" else draw(st.sampled_from(ACCOUNTS))
            steps.append(write(draw, kind, account, day))
    return steps


def read_arguments(draw: st.DrawFn) -> tuple:
    first = draw(st.integers(0, len(DAYS) - 1))
    return (
        draw(st.sampled_from(COLUMNS)),
        draw(st.lists(st.sampled_from(ACCOUNTS), unique=True, min_size=1, max_size=2)),
        draw(st.lists(st.integers(0, INSTANCES - 1), unique=True)),  # folded VMs
        draw(st.lists(st.integers(0, INSTANCES - 1), unique=True)),  # folded disks
        first,
        draw(st.integers(first, len(DAYS) - 1)),
    )


def restate(client, prefix: str, step: tuple) -> None:
    kind, account, day, rows = step
    rows = rows.copy()
    if kind == "nodes":
        rows["provider_id"] = rows["provider_id"].str.replace("i-", f"i-{prefix}")
        nodedays.restate(client, prefix + account, DAYS[day], rows)
    elif kind == "volumes":
        rows["provider_id"] = rows["provider_id"].str.replace("vol-", f"vol-{prefix}")
        pvdays.restate(client, prefix + account, DAYS[day], rows)
    else:
        rows["resource_id"] = prefix + rows["resource_id"]
        warehouse.restate_day(client, "expenses", prefix + account, DAYS[day], rows)


def comparable(result) -> tuple[list[str], list[tuple]]:
    """The columns and the rows in one order, each day's names sorted and each amount
    to 1e-9 dollars: the view gathers names and sums amounts in no set order (its
    threads), so two runs of the view itself may differ in the last bit."""

    def value(v: object) -> object:
        if isinstance(v, list):
            return tuple(sorted(v))
        return round(v, 9) if isinstance(v, float) else v

    return list(result.column_names), sorted(
        tuple(value(v) for v in row) for row in result.result_rows
    )


def read_parameters(prefix: str, arguments: tuple) -> dict:
    """A read's clusters, days and bill arguments (read_arguments' draw) as the view's
    parameters (also test_allocation_rollup.py's)."""
    column, accounts, vms, disks, first, last = arguments
    folded = sorted(
        [(f"{prefix}vm-{n}", f"i-{prefix}{n}") for n in vms]
        + [(f"{prefix}disk-{n}", f"vol-{prefix}{n}") for n in disks]
    )
    return {
        "cluster_account_ids": [prefix + account for account in accounts],
        "first_day": day_start_epoch(DAYS[first]),
        "last_day": day_start_epoch(DAYS[last]),
        "bill_resource_ids": [resource for resource, _ in folded],
        "bill_instance_keys": [key for _, key in folded],
        "cost_column": column,
    }


def check_read(client, prefix: str, arguments: tuple) -> None:
    parameters = read_parameters(prefix, arguments)
    view = client.query(sqlfiles.query("cluster_bill_adjustments"), parameters=parameters)
    key = billrollup.refresh(
        client,
        parameters["cluster_account_ids"],
        parameters["first_day"],
        parameters["last_day"],
        parameters,
    )
    rollup = client.query(
        "SELECT * FROM cluster_bill_adjustments_rollup(rollup_key = {rollup_key:String}, "
        "first_day = {first_day:UInt32}, last_day = {last_day:UInt32})",
        parameters={**parameters, "rollup_key": key},
    )
    assert comparable(rollup) == comparable(view)


@history_settings(EXAMPLES_SHARE)
@given(history=histories())
def test_the_rollup_answers_what_the_view_answers_under_restatement(client, history):
    prefix = f"x{next(EXAMPLES)}-"
    with alternating_writers(client) as writers:
        replay(
            history,
            lambda step: check_read(client, prefix, step[1:]),
            lambda step: restate(next(writers), prefix, step),
        )
    for column in COLUMNS:
        check_read(client, prefix, (column, *EVERYTHING[1:]))
