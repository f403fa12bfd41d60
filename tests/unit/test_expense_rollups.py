"""Property test: the rollups of breakdown_expenses and clean_expenses answer what the
raw queries answer.

Hypothesis draws a history over three days of an organization with one cluster (its
own account) and two bill accounts holding resources and node VMs of the cluster:
every account-day written once (etl/storage/warehouse.py restate_day, as the
pipeline and the bill import write) and read, then restatements (other costs, resources gone,
a day emptied: cancel rows the collapsing must net out) and reads in any order. Each
read draws the filters a request can give the query: accounts, accounts skipped,
resources (an attribute filter), node folding on or off, the breakdown key (by
account, or a key map per resource and per account, as api/query/breakdown.py KeyMap
builds from the documents), the cost column, the period (bounds off midnight too) and
clean_expenses' page. At every read, etl/storage/breakdownreads.py expense_key_days
(the rollup: sql/schema/020, refreshed for restated days) must return the rows that
sql/queries/breakdown_expenses_costs.sql returns on the raw expense rows as they are
then, and etl/storage/expensereads.py clean_expense_costs (sql/schema/021, recomputed
when a day of the period was restated) the answer of sql/queries/clean_expenses_costs.sql;
at the end, every read is made again. Costs are quarters of a dollar, so any order of
summing gives the same float and the comparison is exact. Made to skip the recompute of
restated days or periods (sql/include/macros.sql stale_days,
sql/queries/clean_expense_period_stale.sql), the test fails.

Examples are drawn derandomized, each in accounts of its own, on one embedded ClickHouse;
every other restatement goes through a second connection (tests/rollup_checks.py
alternating_writers), as another process's would, past the readers' freshness gate.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.core.days import day_start_epoch
from etl.storage import sqlfiles, warehouse
from etl.storage.billrollup import with_rollup
from etl.storage.breakdownreads import expense_key_days
from etl.storage.clickhouse import connect
from etl.storage.expensereads import clean_expense_costs
from tests.rollup_checks import history_settings, replay_reads

EXAMPLES_SHARE = 0.5  # of the profile's (tests/rollup_checks.py)
DAYS = [date(2025, 4, 1) + timedelta(days=n) for n in range(3)]
CLUSTER_ACCOUNT = "k8s"
# account -> its resources; vm-* are nodes of the cluster `cl`
RESOURCES = {CLUSTER_ACCOUNT: ("cl",), "aws-a": ("r0", "r1", "vm0"), "aws-b": ("r2", "vm1")}
NODES = {"vm0": "cl", "vm1": "cl"}
PRICES = st.sampled_from([0.0, 0.25, 1.5, 3.0, 10.75])
COLUMNS = ("cost", "effective_cost", "list_cost")
KEYS = st.sampled_from(["x", "y", "null"])
EXAMPLES = itertools.count()
# A read of every account, resource and day by account, folding the nodes.
EVERYTHING = {
    "accounts": sorted(RESOURCES),
    "skipped": [],
    "resources": None,
    "folding": True,
    "by_account": True,
    "resource_keys": {},
    "account_keys": {},
    "first": 0,
    "last": len(DAYS) - 1,
    "off_midnight": False,
    "limit": 100,
    "offset": 0,
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('breakdown-rollup') / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def write(draw: st.DrawFn, account: str, day: int) -> tuple:
    resources = draw(st.lists(st.sampled_from(RESOURCES[account]), unique=True))
    rows = pd.DataFrame(
        [{"resource_id": r, **{c: draw(PRICES) for c in COLUMNS}} for r in resources],
        columns=["resource_id", *COLUMNS],
    )
    return ("write", account, day, rows)


def read(draw: st.DrawFn) -> tuple:
    accounts = draw(st.lists(st.sampled_from(sorted(RESOURCES)), unique=True, min_size=1))
    every = [r for account in sorted(RESOURCES) for r in RESOURCES[account]]
    first = draw(st.integers(0, len(DAYS) - 1))
    return (
        "read",
        {
            "accounts": accounts,
            "skipped": draw(st.lists(st.sampled_from(accounts), unique=True)),
            "resources": draw(st.none() | st.lists(st.sampled_from(every), unique=True)),
            "folding": draw(st.booleans()),
            "by_account": draw(st.booleans()),
            "resource_keys": {r: draw(KEYS) for r in draw(st.sets(st.sampled_from(every)))},
            "account_keys": {a: draw(KEYS) for a in draw(st.sets(st.sampled_from(accounts)))},
            "column": draw(st.sampled_from(COLUMNS)),
            "first": first,
            "last": draw(st.integers(first, len(DAYS) - 1)),
            "off_midnight": draw(st.booleans()),
            "limit": draw(st.integers(1, 4)),
            "offset": draw(st.integers(0, 3)),
        },
    )


@st.composite
def histories(draw: st.DrawFn) -> list[tuple]:
    """Every account-day written, then restatements and reads in any order."""
    steps = [write(draw, account, day) for day in range(len(DAYS)) for account in RESOURCES]
    steps.append(("read", {**EVERYTHING, "column": "cost"}))
    steps.append(read(draw))
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            steps.append(read(draw))
        else:
            account = draw(st.sampled_from(sorted(RESOURCES)))
            steps.append(write(draw, account, draw(st.integers(0, len(DAYS) - 1))))
    return steps


def parameters(prefix: str, drawn: dict) -> dict:
    """The queries' arguments for a drawn read (the breakdown's and clean_expenses'
    together: each reads its own), ids prefixed with the example's."""

    def ids(values) -> list[str]:
        return [prefix + value for value in values]

    nodes = sorted(NODES) if drawn["folding"] else []
    start = day_start_epoch(DAYS[drawn["first"]]) - (3600 if drawn["off_midnight"] else 0)
    end = day_start_epoch(DAYS[drawn["last"]]) + (86399 if drawn["off_midnight"] else 0)
    return {
        "cloud_account_ids": ids(drawn["accounts"]),
        "skip_account_ids": ids(drawn["skipped"]),
        "start_date": start,
        "end_date": end,
        "all_resources": drawn["resources"] is None,
        "resource_ids": ids(drawn["resources"] or []),
        "cost_column": drawn["column"],
        "node_ids": ids(nodes),
        "node_clusters": ids(NODES[node] for node in nodes),
        "cluster_account_ids": ids([CLUSTER_ACCOUNT]),
        "k8s_account_ids": ids([CLUSTER_ACCOUNT]),
        "by_account": drawn["by_account"],
        "key_ids": ids(drawn["resource_keys"]),
        "key_values": list(drawn["resource_keys"].values()),
        "key_account_ids": ids(drawn["account_keys"]),
        "key_account_values": list(drawn["account_keys"].values()),
        "bill_resource_ids": [],
        "bill_instance_keys": [],
        "billing_periods": [],
        "limit": drawn["limit"],
        "offset": drawn["offset"],
    }


def restate(client, prefix: str, step: tuple) -> None:
    _, account, day, rows = step
    rows = rows.assign(resource_id=prefix + rows["resource_id"])
    warehouse.restate_day(client, "expenses", prefix + account, DAYS[day], rows)


def check_read(client, prefix: str, drawn: dict) -> None:
    arguments = parameters(prefix, drawn)
    raw = client.query(
        sqlfiles.query("breakdown_expenses_costs"), parameters=with_rollup(client, arguments)
    ).result_rows
    assert expense_key_days(client, arguments) == raw
    raw_answer = client.query_arrow(
        sqlfiles.query("clean_expenses_costs"), parameters=with_rollup(client, arguments)
    )
    assert clean_expense_costs(client, arguments).to_pylist() == raw_answer.to_pylist()


@history_settings(EXAMPLES_SHARE)
@given(history=histories())
def test_the_rollup_answers_what_the_raw_rows_answer_under_restatement(client, history):
    prefix = f"x{next(EXAMPLES)}-"
    replay_reads(
        client,
        history,
        lambda drawn: check_read(client, prefix, drawn),
        lambda writer, step: restate(writer, prefix, step),
        [{**EVERYTHING, "column": column} for column in COLUMNS],
    )
