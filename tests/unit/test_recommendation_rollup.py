"""Property test: right-sizing read from its per-day rollup answers what the raw rows answer.

Hypothesis draws a history over three days of two clusters' container-days: every
cluster-day written once (etl/storage/warehouse.py restate_day, as the pipeline writes
k8s_container_usage) and read, then restatements (other values, containers gone, a
day emptied: cancel rows the collapsing must net out), merges that collapse cancelled
rows away (OPTIMIZE ... FINAL, as a background merge may) and reads in any order. Each
read draws what a request can ask: clusters, the window (bounds off midnight too),
namespaces and the quantiles. At every read, etl/storage/usagereads.py
recommendation_rows (the rollup: sql/schema/023, refreshed for restated days) must
return the rows of sql/queries/k8s_recommendations_raw.sql on the raw rows as they are
then, value for value; at the end every read is made again. The values are not
quarters: sums of tenths, thirds and large figures come out the same only if the
rollup adds up the days' exact units (sql/include/macros.sql exact_parts), not their
rounded sums. Made to skip the recompute of restated days (the stale-days query), the
test fails. Container-days without usage are drawn too, so a key is restated from
measured to unmeasured and back (and read null, test at the end).

Examples are drawn derandomized, each in accounts of its own, on one embedded
ClickHouse; every other restatement goes through a second connection
(tests/rollup_checks.py alternating_writers), past the reader's freshness gate.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.query.recommendations import find_recommendations
from etl.core.days import day_start_epoch
from etl.storage import sqlfiles, warehouse
from etl.storage.clickhouse import connect
from etl.storage.usagereads import recommendation_rows
from tests.rollup_checks import history_settings, replay_reads

EXAMPLES_SHARE = 0.5  # of the profile's (tests/rollup_checks.py)
DAYS = [date(2025, 5, 1) + timedelta(days=n) for n in range(3)]
ACCOUNTS = ("k8s-a", "k8s-b")
NAMESPACES = ("shop", "data")
# resource_id -> its names (namespace, controller_kind, controller, pod, container):
# two replicas of one container, a sidecar, a bare controller name, a pod of its own.
CONTAINERS = {
    "web-1": ("shop", "Deployment", "web", "web-1", "app"),
    "web-2": ("shop", "Deployment", "web", "web-2", "app"),
    "web-1-proxy": ("shop", "Deployment", "web", "web-1", "proxy"),
    "etl-0": ("data", "", "etl", "etl-0", "job"),
    "adhoc": ("data", "", "", "adhoc", "shell"),
}
NAME_COLUMNS = ("namespace", "controller_kind", "controller", "pod", "container")
VALUE_COLUMNS = (
    "running_hours",
    "cpu_request",
    "ram_request",
    "cpu_p95",
    "cpu_max",
    "ram_p95",
    "ram_max",
    "samples",
    "cpu_usd",
    "cpu_core_hours",
    "ram_usd",
    "ram_gib_hours",
)
COLUMNS = ["resource_id", *NAME_COLUMNS, "node", *VALUE_COLUMNS]
FIGURES = st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 2.675, 24.0, 7_777.123456789, 123_456.7])
QUANTILES = st.sampled_from([0.05, 0.1, 1 / 3, 0.7, 2.5])
SAMPLES = st.sampled_from([60.0, 1440.0, 2880.0])
EXAMPLES = itertools.count()
# One container-day of a replica, measured.
WEB_DAY = {
    **dict(zip(NAME_COLUMNS, CONTAINERS["web-1"], strict=True)),
    "resource_id": "web-1",
    "node": "n1",
    "running_hours": 24.0,
    "cpu_request": 2.0,
    "ram_request": 2.0**31,
    "cpu_p95": 0.5,
    "cpu_max": 0.9,
    "ram_p95": 2.0**29,
    "ram_max": 2.0**30,
    "samples": 1440.0,
    "cpu_usd": 1.0,
    "cpu_core_hours": 48.0,
    "ram_usd": 0.5,
    "ram_gib_hours": 96.0,
}
EVERYTHING = {
    "accounts": list(ACCOUNTS),
    "first": 0,
    "last": len(DAYS) - 1,
    "off_midnight": False,
    "namespaces": [],
    "quantiles": ("p95", "max"),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('recommendation-rollup') / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def container_day(draw: st.DrawFn, resource_id: str, day: int) -> dict:
    # Some container-days without usage series (null quantiles and samples), drawn, so
    # that a key is restated from measured to unmeasured and back.
    measured = draw(st.booleans()) or resource_id == "web-1"
    cpu, ram = (draw(QUANTILES), draw(QUANTILES)) if measured else (None, None)
    return {
        "resource_id": resource_id,
        **dict(zip(NAME_COLUMNS, CONTAINERS[resource_id], strict=True)),
        "node": "n1",
        "running_hours": draw(FIGURES),
        "cpu_request": draw(FIGURES),
        "ram_request": draw(FIGURES) * 2**30,
        "cpu_p95": cpu,
        "cpu_max": None if cpu is None else cpu * 2,
        "ram_p95": None if ram is None else ram * 2**30,
        "ram_max": None if ram is None else ram * 2**31,
        "samples": draw(SAMPLES) if measured else None,
        "cpu_usd": draw(FIGURES),
        "cpu_core_hours": draw(FIGURES),
        "ram_usd": draw(FIGURES),
        "ram_gib_hours": draw(FIGURES),
    }


def day_rows(containers: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(containers, columns=COLUMNS)


def write(draw: st.DrawFn, account: str, day: int) -> tuple:
    containers = draw(st.lists(st.sampled_from(sorted(CONTAINERS)), unique=True))
    rows = day_rows([container_day(draw, r, day) for r in containers])
    return ("write", account, day, rows)


def read(draw: st.DrawFn) -> tuple:
    first = draw(st.integers(0, len(DAYS) - 1))
    return (
        "read",
        {
            "accounts": draw(st.lists(st.sampled_from(ACCOUNTS), unique=True, min_size=1)),
            "first": first,
            "last": draw(st.integers(first, len(DAYS) - 1)),
            "off_midnight": draw(st.booleans()),
            "namespaces": draw(st.lists(st.sampled_from(NAMESPACES), unique=True)),
            "quantiles": (
                draw(st.sampled_from(["p95", "max"])),
                draw(st.sampled_from(["p95", "max"])),
            ),
        },
    )


@st.composite
def histories(draw: st.DrawFn) -> list[tuple]:
    """Every cluster-day written, everything read (every day rolled up), then
    restatements, merges and reads in any order."""
    steps = [write(draw, account, day) for day in range(len(DAYS)) for account in ACCOUNTS]
    steps.append(("read", EVERYTHING))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["read", "write", "merge"]))
        if kind == "read":
            steps.append(read(draw))
        elif kind == "merge":
            steps.append(("merge",))
        else:
            steps.append(write(draw, draw(st.sampled_from(ACCOUNTS)), draw(st.integers(0, 2))))
    return steps


def period(drawn: dict) -> tuple[int, int]:
    start = day_start_epoch(DAYS[drawn["first"]]) - (3600 if drawn["off_midnight"] else 0)
    end = day_start_epoch(DAYS[drawn["last"]]) + (86399 if drawn["off_midnight"] else 0)
    return start, end


def ordered(rows) -> list[dict]:
    return sorted(
        rows,
        key=lambda r: (r["cloud_account_id"], r["namespace"], r["controller_key"], r["container"]),
    )


def raw_rows(client, accounts: list[str], drawn: dict) -> list[dict]:
    """The definition's answer (sql/queries/k8s_recommendations_raw.sql) on the raw rows."""
    start, end = period(drawn)
    cpu, memory = drawn["quantiles"]
    parameters = {
        "cloud_account_ids": accounts,
        "start_date": start,
        "end_date": end,
        "namespaces": drawn["namespaces"],
        "cpu_quantile": cpu,
        "memory_quantile": memory,
    }
    query = sqlfiles.query("k8s_recommendations_raw")
    return ordered(client.query(query, parameters=parameters).named_results())


def check_read(client, prefix: str, drawn: dict) -> None:
    accounts = [prefix + account for account in drawn["accounts"]]
    start, end = period(drawn)
    rolled = recommendation_rows(
        client, accounts, start, end, drawn["namespaces"], *drawn["quantiles"]
    )
    assert ordered(rolled) == raw_rows(client, accounts, drawn)


def restate(client, prefix: str, step: tuple) -> None:
    """A drawn restatement, or a merge (OPTIMIZE ... FINAL, whichever client runs it)."""
    if step[0] == "merge":
        client.command("OPTIMIZE TABLE k8s_container_usage FINAL")
        return
    _, account, day, rows = step
    rows = rows.assign(resource_id=prefix + rows["resource_id"])
    warehouse.restate_day(client, "k8s_container_usage", prefix + account, DAYS[day], rows)


@history_settings(EXAMPLES_SHARE)
@given(history=histories())
def test_the_rollup_answers_what_the_raw_rows_answer_under_restatement(client, history):
    prefix = f"x{next(EXAMPLES)}-"
    replay_reads(
        client,
        history,
        lambda drawn: check_read(client, prefix, drawn),
        lambda writer, step: restate(writer, prefix, step),
    )


def test_a_restated_cluster_day_shows_in_the_next_answer(client):
    """Read (the rollup computes the days), restate a cluster-day through another
    connection, read again: the recommendation follows the new rows, as the raw query
    does; then the day emptied."""
    account, window = "restated-k8s", {**EVERYTHING, "first": 0, "last": 1}
    start, end = period(window)
    day = WEB_DAY
    for n in (0, 1):
        warehouse.restate_day(client, "k8s_container_usage", account, DAYS[n], day_rows([day]))

    def answer() -> list[dict]:
        return find_recommendations(client, [account], start, end)

    before = answer()
    assert [r["usage"]["cpu_cores"] for r in before] == [0.5]
    with connect(client.uri) as other:
        warehouse.restate_day(
            other, "k8s_container_usage", account, DAYS[1], day_rows([{**day, "cpu_p95": 1.5}])
        )
    after = answer()
    assert [r["usage"]["cpu_cores"] for r in after] == [1.5]
    assert ordered(recommendation_rows(client, [account], start, end, [], "p95", "max")) == (
        raw_rows(client, [account], window)
    )
    warehouse.restate_day(client, "k8s_container_usage", account, DAYS[1], day_rows([]))
    emptied = answer()
    assert [(r["usage"]["cpu_cores"], r["based_on"]["days"]) for r in emptied] == [(0.5, 1)]


def test_a_container_day_that_lost_its_usage_reads_null_before_and_after_a_merge(client):
    """A key restated from measured to unmeasured: its live row has no quantile, so it
    reads null (no recommendation), not the 0.0 its cancelled rows sum to, both before
    a merge collapses them away and after (sql/include/macros.sql `live_value`); the
    rollup, computed before the merge, agrees with the raw rows at either time."""
    account, window = "merged-k8s", {**EVERYTHING, "first": 0, "last": 0}
    start, end = period(window)
    measured = day_rows([{**WEB_DAY, "cpu_p95": 0.5, "ram_max": 2.0**30}])
    warehouse.restate_day(client, "k8s_container_usage", account, DAYS[0], measured)
    unmeasured = measured.assign(cpu_p95=None, cpu_max=None, ram_p95=None, ram_max=None)
    warehouse.restate_day(client, "k8s_container_usage", account, DAYS[0], unmeasured)
    rolled = ordered(recommendation_rows(client, [account], start, end, [], "p95", "max"))
    assert [(r["cpu_usage"], r["ram_usage"], r["measured_days"]) for r in rolled] == [
        (None, None, 0)
    ]
    assert rolled == raw_rows(client, [account], window)
    client.command("OPTIMIZE TABLE k8s_container_usage FINAL")
    assert ordered(recommendation_rows(client, [account], start, end, [], "p95", "max")) == rolled
    assert raw_rows(client, [account], window) == rolled
