"""The rollups' freshness gate (etl/storage/rollupgate.py): a reader's refresh is
skipped while nothing was restated, and a restatement by another connection (another
API process, the DAG's workers), wherever it lands in a request (before the gate's
count, between the count and the stale-days query, between the refresh and the read),
is in the answer of the next request at the latest.

The reader is breakdown_expenses' (etl/storage/breakdownreads.py expense_key_days: its
day rollup, whose compute refreshes the bill adjustments' rollup), compared with the
raw query (sql/queries/breakdown_expenses_costs.sql) on the rows as they are; the
writer is a second client on the same embedded directory, with a gate of its own.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from etl.storage import rollupgate, sqlfiles, warehouse
from etl.storage.billrollup import with_rollup
from etl.storage.breakdownreads import EXPENSE_KEY_DAYS, expense_key_days
from etl.storage.clickhouse import connect
from tests.unit.test_expense_rollups import DAYS, EVERYTHING, parameters

ACCOUNT = "aws-a"
EXAMPLES = itertools.count()


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """The reader's client and the writer's, on one directory."""
    dsn = f"chdb://{tmp_path_factory.mktemp('rollup-gate') / 'ch'}"
    with connect(dsn) as reader, connect(dsn) as writer:
        warehouse.init_schema(reader)
        yield reader, writer


@pytest.fixture
def prefix() -> str:
    return f"g{next(EXAMPLES)}-"


def wrap_refreshes(monkeypatch, wrap) -> None:
    """Make every gated refresh run as `wrap(stale-days query name, refresh)` runs it."""
    gated = rollupgate.refresh_unless_current

    def wrapped(client, gate, refresh):
        gated(client, gate, lambda: wrap(gate[0], refresh))

    monkeypatch.setattr(rollupgate, "refresh_unless_current", wrapped)


@pytest.fixture
def stale_queries(monkeypatch) -> list[str]:
    """The stale-days queries the rollups run, by query file, as they run."""
    ran: list[str] = []

    def counted(name, refresh):
        ran.append(name)
        refresh()

    wrap_refreshes(monkeypatch, counted)
    return ran


def restate(client, prefix: str, cost: float, day: int = 0) -> None:
    rows = pd.DataFrame(
        [{"resource_id": f"{prefix}r0", "cost": cost, "effective_cost": cost, "list_cost": cost}]
    )
    warehouse.restate_day(client, "expenses", prefix + ACCOUNT, DAYS[day], rows)


def arguments(prefix: str) -> dict:
    return parameters(prefix, {**EVERYTHING, "column": "cost"})


def raw(client, prefix: str) -> list[tuple]:
    query = sqlfiles.query("breakdown_expenses_costs")
    return client.query(query, parameters=with_rollup(client, arguments(prefix))).result_rows


def costs(rows: list[tuple]) -> list[float]:
    return [cost for _, _, cost in rows]


def test_a_refresh_is_skipped_until_another_connection_restates(clients, prefix, stale_queries):
    reader, writer = clients
    restate(writer, prefix, 1.25)
    assert expense_key_days(reader, arguments(prefix)) == raw(reader, prefix)
    assert "breakdown_expense_stale_days" in stale_queries
    stale_queries.clear()
    assert costs(expense_key_days(reader, arguments(prefix))) == [1.25]
    assert stale_queries == []  # nothing written: the gate answered

    restate(writer, prefix, 2.5, day=1)
    assert costs(expense_key_days(reader, arguments(prefix))) == [1.25, 2.5]
    assert stale_queries == ["breakdown_expense_stale_days", "bill_adjustment_stale_days"]


def test_a_write_between_the_gate_and_the_stale_query_is_read_next(clients, prefix, monkeypatch):
    reader, writer = clients
    restate(writer, prefix, 1.25)
    assert costs(expense_key_days(reader, arguments(prefix))) == [1.25]
    restate(writer, prefix, 2.5)  # the gate's count changes: the next read refreshes
    count = rollupgate.write_count

    def count_then_write(client):
        counted = count(client)
        monkeypatch.setattr(rollupgate, "write_count", count)
        restate(writer, prefix, 10.75)  # after the count, before the stale-days query
        return counted

    monkeypatch.setattr(rollupgate, "write_count", count_then_write)
    assert costs(expense_key_days(reader, arguments(prefix))) in ([2.5], [10.75])
    assert costs(expense_key_days(reader, arguments(prefix))) == [10.75]
    assert expense_key_days(reader, arguments(prefix)) == raw(reader, prefix)


def test_a_write_between_the_refresh_and_the_read_is_read_next(clients, prefix, monkeypatch):
    reader, writer = clients
    restate(writer, prefix, 1.25)
    written = []

    def refresh_then_write(name, refresh):
        refresh()
        if name == EXPENSE_KEY_DAYS.stale_days and not written:  # not the bill's inside
            written.append(name)
            restate(writer, prefix, 3.0)  # after the refresh, before the rollup is read

    wrap_refreshes(monkeypatch, refresh_then_write)
    assert costs(expense_key_days(reader, arguments(prefix))) == [1.25]
    assert costs(expense_key_days(reader, arguments(prefix))) == [3.0]
    assert expense_key_days(reader, arguments(prefix)) == raw(reader, prefix)


def test_a_failed_refresh_is_run_again(clients, prefix, monkeypatch):
    reader, writer = clients
    restate(writer, prefix, 1.25)

    def fails(_name, _refresh):
        raise RuntimeError("the engine went away")

    wrap_refreshes(monkeypatch, fails)
    with pytest.raises(RuntimeError):
        expense_key_days(reader, arguments(prefix))
    monkeypatch.undo()
    assert costs(expense_key_days(reader, arguments(prefix))) == [1.25]


def test_each_client_keeps_its_own_gates(clients, prefix, stale_queries):
    """A client that never refreshed this period (another process's) runs its refresh
    even at a count another client has seen: the gate is no shared state."""
    reader, writer = clients
    restate(writer, prefix, 1.25)
    expense_key_days(reader, arguments(prefix))
    stale_queries.clear()
    assert costs(expense_key_days(writer, arguments(prefix))) == [1.25]
    assert "breakdown_expense_stale_days" in stale_queries
