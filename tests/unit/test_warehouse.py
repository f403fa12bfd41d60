"""The restatement on a real embedded ClickHouse (chdb)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from etl.storage import sqlfiles, warehouse
from etl.storage.clickhouse import connect
from tests.truth import COST_KEYS

DAY = date(2026, 3, 31)


@pytest.fixture
def client(tmp_path):
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def live(client, day=DAY) -> dict[str, tuple[float, int]]:
    rows = client.query(
        "SELECT resource_id, sum(cost * sign), sum(sign) FROM expenses "
        "WHERE toDate(date) = {day:Date} GROUP BY cloud_account_id, date, resource_id "
        "HAVING sum(sign) > 0",
        parameters={"day": day},
    ).result_rows
    return {resource: (cost, signs) for resource, cost, signs in rows}


def expense(**costs: float) -> pd.DataFrame:
    return pd.DataFrame({"resource_id": list(costs), "cost": list(costs.values())})


def test_schema_is_idempotent(client):
    assert warehouse.init_schema(client) == [
        "001_expenses.sql",
        "002_k8s_cost_breakdown.sql",
        "003_k8s_allocation.sql",
        "004_k8s_allocation_services.sql",
        "005_k8s_allocation_usage.sql",
        "006_k8s_container_usage.sql",
        "007_expenses_focus_columns.sql",
        "008_k8s_node_days.sql",
        "009_node_bill_factors.sql",
        "010_k8s_allocation_reconciled.sql",
        "011_k8s_pv_days.sql",
        "012_bill_instance_days.sql",
        "013_pv_bill_factors.sql",
        "014_cluster_bill_adjustments.sql",
        "015_warehouse_day_writes.sql",
        "016_bill_adjustment_days.sql",
        "017_cluster_bill_adjustments_rollup.sql",
        "018_k8s_allocation_days.sql",
        "019_k8s_allocation_rollup.sql",
        "020_breakdown_expense_days.sql",
        "021_clean_expense_periods.sql",
        "022_warehouse_writes.sql",
        "023_k8s_recommendation_days.sql",
        "024_k8s_allocation_group_days.sql",
        "025_k8s_allocation_group_rollup.sql",
    ]


def test_a_run_applies_the_schema_once_on_a_fresh_install_and_never_again(tmp_path):
    """`k8scost run` ensures the schema: all of it where a table is missing (the embedded
    install's first run), no DDL where every table and view exists."""
    with connect(f"chdb://{tmp_path / 'fresh'}") as fresh:
        assert warehouse.ensure_schema(fresh) == [name for name, _ in sqlfiles.schema_statements()]
        assert warehouse.ensure_schema(fresh) == []
        fresh.command("DROP VIEW node_bill_factors")
        assert len(warehouse.ensure_schema(fresh)) == len(sqlfiles.schema_statements())


def test_restating_replaces_values_and_cancels_vanished_resources(client):
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=1.25, b=2.5))
    written = warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=3.75))
    assert written == 3  # two cancels, one new row
    assert live(client) == {"a": (3.75, 1)}


def test_restating_leaves_other_days_and_accounts_alone(client):
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=1.0))
    warehouse.restate_day(client, "expenses", "other", DAY, expense(a=7.0))
    warehouse.restate_day(client, "expenses", "acc", date(2026, 4, 1), expense(a=9.0))
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=2.0))
    rows = client.query(
        "SELECT cloud_account_id, toDate(date), sum(cost * sign) FROM expenses "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    ).result_rows
    assert rows == [("acc", DAY, 2.0), ("acc", date(2026, 4, 1), 9.0), ("other", DAY, 7.0)]


def test_a_doubled_day_heals_on_the_next_restatement(client):
    # Two writers that both inserted +1 rows leave sum(sign) = 2; the next restatement
    # cancels both, so the day is counted once again.
    row = expense(a=4.0).assign(cloud_account_id="acc", date=warehouse.day_start(DAY), sign=1)
    for _writer in range(2):
        client.insert_df(
            "expenses", row[["cloud_account_id", "resource_id", "date", "cost", "sign"]]
        )
    assert live(client) == {"a": (8.0, 2)}
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=4.0))
    assert live(client) == {"a": (4.0, 1)}


def test_the_breakdown_table_restates_every_component(client):
    columns = list(COST_KEYS)
    first = pd.DataFrame([{"resource_id": "c", **dict.fromkeys(columns, 1.0)}])
    second = pd.DataFrame([{"resource_id": "c", **{c: float(i) for i, c in enumerate(columns)}}])
    warehouse.restate_day(client, "k8s_cost_breakdown", "acc", DAY, first)
    warehouse.restate_day(client, "k8s_cost_breakdown", "acc", DAY, second)
    sums = ", ".join(f"sum({c} * sign)" for c in columns)
    (row,) = client.query(f"SELECT {sums} FROM k8s_cost_breakdown").result_rows
    assert list(row) == [float(i) for i in range(len(columns))]


def test_an_allocation_table_from_before_services_gains_them_and_restates_cleanly(tmp_path):
    """A deployment whose `k8s_allocation` was created by 003 alone: applying the schema
    adds `services`, old rows read as no Service, and the next run cancels them exactly."""
    created = dict(sqlfiles.schema_statements())["003_k8s_allocation.sql"]
    live_rows = (
        "SELECT resource_id, any(services), sum(cost * sign), sum(sign) FROM k8s_allocation "
        "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0 ORDER BY resource_id"
    )
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        client.command(created)
        old = pd.DataFrame({"resource_id": ["pod", "lb"], "pod": ["web-1", "service/web/lb"]})
        client.insert_df(  # what the code before 004 wrote
            "k8s_allocation",
            old.assign(cloud_account_id="acc", date=warehouse.day_start(DAY), cost=[1.0, 2.0])
            .assign(sign=1)
            .astype({"sign": "int8"}),
        )
        warehouse.init_schema(client)
        assert client.query(live_rows).result_rows == [("lb", [], 2.0, 1), ("pod", [], 1.0, 1)]
        new = old.assign(resource_id=["pod-2", "lb-2"], services=[["a", "web"], ["lb"]])
        for _run in range(2):
            warehouse.restate_day(client, "k8s_allocation", "acc", DAY, new.assign(cost=[3.0, 4.0]))
        assert client.query(live_rows).result_rows == [
            ("lb-2", ["lb"], 4.0, 1),
            ("pod-2", ["a", "web"], 3.0, 1),
        ]
        (cancelled,) = client.query(
            "SELECT count() FROM k8s_allocation WHERE sign = -1 AND services = ['a', 'web']"
        ).result_rows[0]
        assert cancelled == 1  # the second run cancelled the first run's row with its list


def test_a_restatement_within_a_billing_period_leaves_the_other_period_s_rows(client):
    """A day may hold rows of two bills (this month's, and last month's charges billed
    late): restating one period's rows of the day keeps the other's."""
    september, october = pd.Timestamp("2026-03-01"), pd.Timestamp("2026-04-01")

    def billed(period: pd.Timestamp, cost: float) -> pd.DataFrame:
        return expense(a=cost).assign(billing_period=period, effective_cost=cost / 2)

    for period, cost in ((september, 1.0), (october, 4.0)):
        warehouse.restate_day(
            client, "expenses", "acc", DAY, billed(period, cost), {"billing_period": period}
        )
    warehouse.restate_day(
        client, "expenses", "acc", DAY, billed(october, 6.0), {"billing_period": october}
    )

    rows = client.query(
        "SELECT billing_period, sum(cost * sign), sum(effective_cost * sign), sum(sign)"
        " FROM expenses GROUP BY billing_period ORDER BY billing_period"
    ).result_rows
    assert rows == [(september.date(), 1.0, 0.5, 1), (october.date(), 6.0, 3.0, 1)]


def test_a_writer_of_cost_alone_states_every_metric_equal_to_it(client):
    """The platform's other importers write `cost` only: the metrics' DEFAULT is `cost`."""
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=2.5))
    warehouse.restate_day(client, "expenses", "acc", DAY, expense(a=3.5))

    (row,) = client.query(
        "SELECT sum(cost * sign), sum(effective_cost * sign), sum(list_cost * sign),"
        " sum(contracted_cost * sign) FROM expenses HAVING sum(sign) > 0"
    ).result_rows
    assert row == (3.5, 3.5, 3.5, 3.5)
