"""The project's whole ClickHouse path on a server, or on chdb when no server is given.

`CLICKHOUSE_TEST_DSN=http://user:password@host:8123/default` points these tests at a
ClickHouse server (for example the compose stack's: see docs/production.md); without
it they run on the embedded engine. The steps are the production ones: the schema from
`sql/schema` (`etl.storage.warehouse.init_schema`), restatements
(`etl.storage.warehouse.restate_day`),
then reads by the platform's reader rule (SUM(x * sign) per key, HAVING SUM(sign) > 0,
no FINAL: here and in `tests/stored.py`) and through the restatement's own state query
(`sql/queries/*_day_state.sql`), compared with sums this file computes itself.

Each run works in a database of its own, created and dropped here, so a shared server
is safe. With `CLICKHOUSE_TEST_CLUSTER=<cluster>` as well, the same checks also run on
that server's cluster through the generated cluster DDL (`k8scost db ddl --cluster`).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pandas as pd
import pytest

from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import clusterddl, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from tests.stored import stored_day
from tests.truth import COST_KEYS

pytestmark = pytest.mark.e2e

SERVER_DSN = os.environ.get("CLICKHOUSE_TEST_DSN")
SERVER_CLUSTER = os.environ.get("CLICKHOUSE_TEST_CLUSTER")
DAY_1, DAY_2 = date(2026, 5, 31), date(2026, 6, 1)
ACCOUNT_A, ACCOUNT_B = "account-a", "account-b"


@dataclass(frozen=True)
class Target:
    """One ClickHouse to test: its DSN, how its schema is applied, how its tables merge."""

    dsn: str
    apply_schema: Callable[[], list[str]]
    optimize: Callable[[str], None]


def _with_database(dsn: str, database: str) -> str:
    return urlunparse(urlparse(dsn)._replace(path=f"/{database}"))


def _command(dsn: str, statement: str) -> None:
    with connect(dsn) as client:
        client.command(statement)


def _plain_target(dsn: str) -> Target:
    def apply_schema() -> list[str]:
        with connect(dsn) as client:
            return warehouse.init_schema(client)

    return Target(dsn, apply_schema, lambda table: _command(dsn, f"OPTIMIZE TABLE {table} FINAL"))


def _cluster_target(dsn: str, cluster: str) -> Target:
    def apply_schema() -> list[str]:
        applied = []
        with connect(dsn) as client:
            for name, statement in clusterddl.cluster_statements(cluster):
                client.command(statement)
                applied.append(name)
        return sorted(set(applied))

    def optimize(table: str) -> None:
        _command(
            dsn, f"OPTIMIZE TABLE {table}{clusterddl.LOCAL_SUFFIX} ON CLUSTER '{cluster}' FINAL"
        )

    return Target(dsn, apply_schema, optimize)


@pytest.fixture(params=["single"] + (["cluster"] if SERVER_DSN and SERVER_CLUSTER else []))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """chdb under tmp_path, or a fresh database on the CLICKHOUSE_TEST_DSN server."""
    if SERVER_DSN is None:
        yield _plain_target(f"chdb://{tmp_path / 'clickhouse'}")
        return
    database = f"k8scost_test_{uuid.uuid4().hex[:12]}"
    on_cluster = f" ON CLUSTER '{SERVER_CLUSTER}'" if request.param == "cluster" else ""
    _command(SERVER_DSN, f"CREATE DATABASE {database}{on_cluster}")
    dsn = _with_database(SERVER_DSN, database)
    try:
        if request.param == "cluster":
            yield _cluster_target(dsn, SERVER_CLUSTER)
        else:
            yield _plain_target(dsn)
    finally:
        _command(SERVER_DSN, f"DROP DATABASE IF EXISTS {database}{on_cluster} SYNC")


def _expense(costs: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"resource_id": list(costs), "cost": list(costs.values())})


def _breakdown(resource_id: str, scale: float) -> pd.DataFrame:
    return pd.DataFrame(
        [{"resource_id": resource_id, **{key: scale * (i + 1) for i, key in enumerate(COST_KEYS)}}]
    )


def _restate(target: Target, table: str, account: str, day: date, rows: pd.DataFrame) -> int:
    with connect(target.dsn) as client:
        return warehouse.restate_day(client, table, account, day, rows)


def _load_history(target: Target) -> None:
    """Two accounts, two days, one restated day where a resource vanished."""
    _restate(target, "expenses", ACCOUNT_A, DAY_1, _expense({"r1": 1.25, "r2": 2.5}))
    _restate(target, "expenses", ACCOUNT_A, DAY_2, _expense({"r1": 4.0}))
    _restate(target, "expenses", ACCOUNT_B, DAY_1, _expense({"r3": 7.0}))
    assert _restate(target, "expenses", ACCOUNT_A, DAY_1, _expense({"r1": 3.75})) == 3
    _restate(target, "k8s_cost_breakdown", ACCOUNT_A, DAY_1, _breakdown("r1", 1.0))
    _restate(target, "k8s_cost_breakdown", ACCOUNT_A, DAY_1, _breakdown("r1", 0.5))
    _restate(target, "k8s_cost_breakdown", ACCOUNT_A, DAY_2, _breakdown("r1", 2.0))


def _period_reads(target: Target) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Cost per resource and breakdown per resource over both days, by the reader rule."""
    components = ", ".join(f"sum({key})" for key in COST_KEYS)
    per_key = ", ".join(f"sum({key} * sign) AS {key}" for key in COST_KEYS)
    rule = (
        "WHERE date >= toDateTime({start:UInt32}) AND date <= toDateTime({end:UInt32}) "
        "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0"
    )
    period = {"start": day_start_epoch(DAY_1), "end": day_start_epoch(DAY_2)}
    with connect(target.dsn) as client:
        costs = client.query(
            "SELECT resource_id, sum(day_cost) FROM (SELECT resource_id, "
            f"sum(cost * sign) AS day_cost FROM expenses {rule}) GROUP BY resource_id",
            parameters=period,
        ).result_rows
        breakdown = client.query(
            f"SELECT resource_id, {components} FROM (SELECT resource_id, {per_key} "
            f"FROM k8s_cost_breakdown {rule}) GROUP BY resource_id",
            parameters=period,
        ).result_rows
    return dict(costs), {row[0]: list(row[1:]) for row in breakdown}


def _day_state(target: Target, table: str, account: str, day: date) -> pd.DataFrame:
    """What the restatement itself reads back (sql/queries/<table>_day_state.sql)."""
    with connect(target.dsn) as client:
        return client.query_df(
            sqlfiles.query(f"{table}_day_state"),
            parameters={"cloud_account_id": account, "day_start": day_start_epoch(day)},
        )


def _assert_readers_see_the_last_restatement(target: Target) -> None:
    costs, breakdown = _period_reads(target)
    assert costs == pytest.approx({"r1": 3.75 + 4.0, "r3": 7.0})
    assert breakdown == {"r1": pytest.approx([2.5 * (i + 1) for i in range(len(COST_KEYS))])}
    settings = Settings.from_env({"CLICKHOUSE_DSN": target.dsn})
    day = stored_day(settings, ACCOUNT_A, DAY_1)
    assert day["cost"] == pytest.approx(3.75)
    assert day["expense_rows"] == 1
    assert day["live_rows"] == 1
    assert [day[key] for key in COST_KEYS] == pytest.approx([0.5 * (i + 1) for i in range(7)])
    state = _day_state(target, "expenses", ACCOUNT_A, DAY_1)
    assert state[["resource_id", "live_rows"]].values.tolist() == [["r1", 1]]
    assert state["cost"].tolist() == pytest.approx([3.75])


def test_schema_applies_twice_and_creates_every_table(target):
    files = [name for name, _ in sqlfiles.schema_statements()]
    assert target.apply_schema() == files
    assert target.apply_schema() == files
    created = {
        table
        for _, text in sqlfiles.schema_statements()
        for table in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text)
    }
    with connect(target.dsn) as client:
        tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
    assert {"expenses", "k8s_cost_breakdown"} <= created <= tables


def test_restatements_read_back_exactly_before_and_after_merges(target):
    target.apply_schema()
    _load_history(target)
    _assert_readers_see_the_last_restatement(target)
    # Collapsing merges change the stored rows, never what a reader computes.
    for table in ("expenses", "k8s_cost_breakdown"):
        target.optimize(table)
    _assert_readers_see_the_last_restatement(target)
