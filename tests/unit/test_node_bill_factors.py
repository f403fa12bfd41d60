"""The reconciliation's one rule (sql/schema/009_node_bill_factors.sql): per node-day, the
bill's cost of its VM under a metric and the factor bill/list.

The bill is the commitments fixture (tests/fixtures/focus/focus_1_2_commitments.csv,
README beside it): node 1 under a reservation (billed 0, effective amortized, an
upfront purchase row), node 2 under a savings plan with an unused part, node 3 spot,
node 4 on demand with a negotiated discount and a row billed in October for
September 30; plus a node 5 whose exporter list price is 0. The node-days are loaded
as the pipeline loads them (etl/costmodel/nodedays.py, etl/storage/nodedays.py). Every
expected figure is computed here, with Decimal from the fixture's text and the
prices of the simulated nodes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.bills import import_bill
from etl.core.config import Settings
from etl.costmodel.assets import day_costs
from etl.costmodel.nodedays import node_days
from etl.storage import nodedays, nodes, registry
from etl.storage.clickhouse import connect
from k8scost.cli import cli
from tests.allocation_cluster import MODEL, STEP, Cluster
from tests.focus_bill import COMMITMENTS, ORG, rows, write_csv
from tests.schema import with_schema

TENANT = "tenant-sim"
METRIC_SOURCES = {"billed": "BilledCost", "effective": "EffectiveCost", "list": "ListCost"}
VM = "arn:aws:ec2:us-east-1:222200000001:instance/i-0sim000000000000{}"
# The simulated nodes: (cores, GiB, $/core-h, $/GiB-h), a whole day each; node 5's
# exporter says 0 (custom pricing off), node 6's VM is in no bill.
NODES = {
    "n1": (4, 16, 0.025, 0.003),
    "n2": (2, 8, 0.02, 0.002),
    "n3": (4, 16, 0.04, 0.005),
    "n4": (4, 32, 0.02, 0.001),
    "n5": (2, 8, 0.0, 0.0),
    "n6": (2, 4, 0.03, 0.004),
}
PROVIDER_IDS = {f"n{n}": f"aws:///us-east-1a/i-0sim000000000000{n}" for n in range(1, 6)}
PROVIDER_IDS["n6"] = "aws:///us-east-1a/i-0nobill"
DAYS = [date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3), date(2024, 9, 30), date(2024, 10, 1)]
NODE_5_ROW = {"BilledCost": "1.20", "EffectiveCost": "1.10", "ListCost": "1.50"}


def bill() -> list[dict[str, str]]:
    """The fixture, and a row for node 5's VM on September 1 (a copy of node 4's)."""
    lines = rows(COMMITMENTS)
    (node_4,) = [
        row
        for row in lines
        if row["ResourceId"] == VM.format(4) and row["ChargePeriodStart"].startswith("2024-09-01")
    ]
    return [*lines, {**node_4, **NODE_5_ROW, "ResourceId": VM.format(5), "ResourceName": "n5"}]


def list_usd(node: str) -> dict[str, float]:
    cores, gib, core_price, gib_price = NODES[node]
    return {"cpu": cores * core_price * 24, "ram": gib * gib_price * 24, "gpu": 0.0}


def truth(metric: str) -> dict[tuple[str, str], Decimal]:
    """(node, day) -> the bill's cost of its VM that day: Σ of the metric's column over
    the rows of that ResourceId charged that day. Purchases and the unused part are rows
    of the commitments' own ids, so never a node's."""
    by_vm = {VM.format(n): f"n{n}" for n in range(1, 6)}
    found: dict[tuple[str, str], Decimal] = {}
    for row in bill():
        node = by_vm.get(row["ResourceId"])
        if node:
            key = (node, row["ChargePeriodStart"][:10])
            found[key] = found.get(key, Decimal(0)) + Decimal(row[METRIC_SOURCES[metric]])
    return found


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")}))
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.add_account(db, ORG, "sim-cluster", TENANT, {"scrape_interval_seconds": STEP})
    return settings


def load_node_days(settings: Settings) -> None:
    """Each day's node-days and the cluster's document, as the pipeline's load writes
    them (the document's node provider ids fold the VMs the rule reads)."""
    built = Cluster()
    for node, (cores, gib, core_price, gib_price) in NODES.items():
        built.node(node, 24, cores, gib, {"cpu": core_price, "ram": gib_price})
        built.add("node_provider_ids", 1.0, node=node, provider_id=PROVIDER_IDS[node], region="")
    answers = built.answers()
    frame, issues = node_days(
        day_costs(answers, STEP, MODEL).nodes, answers["node_provider_ids"], STEP / 3600, MODEL
    )
    assert not issues
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.ClusterAccount.from_document(registry.account_document(db, TENANT))
    with connect(settings.clickhouse_dsn) as client:
        for day in DAYS:
            nodedays.restate(client, TENANT, day, frame)
            registry.record_cluster_seen(db, account, day, {}, PROVIDER_IDS.values())


def import_fixture(settings: Settings, tmp_path: Path) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))


def factors(settings: Settings, metric: str) -> dict[tuple[str, str], dict]:
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts, resources = registry.organization_documents(
        db, ORG, nodes.ACCOUNT_FIELDS, nodes.RESOURCE_FIELDS
    )
    with connect(settings.clickhouse_dsn) as client:
        frame = nodedays.bill_factors(
            client, [TENANT], DAYS[0], DAYS[-1], accounts, resources, metric
        )
    return {(row["node"], row["date"].isoformat()): row for row in frame.to_dict("records")}


@pytest.mark.parametrize("metric", ["billed", "effective", "list"])
def test_each_billed_node_day_gets_its_vms_cost_and_the_factor_bill_over_list(
    settings, tmp_path, metric
):
    load_node_days(settings)
    import_fixture(settings, tmp_path)

    found = factors(settings, metric)

    expected = truth(metric)
    # Node 6's VM is in no bill, and no node-day without a bill row is returned.
    assert sorted(found) == sorted(expected)
    for (node, day), bill_usd in expected.items():
        row, listed = found[(node, day)], list_usd(node)
        assert row["provider_id"] == PROVIDER_IDS[node]
        assert Decimal(str(round(row["bill_usd"], 9))) == bill_usd, (node, day)
        total = sum(listed.values())
        assert row["list_usd"] == pytest.approx(total)
        if total:
            assert row["factor"] == pytest.approx(float(bill_usd) / total)
            shares = {r: listed[r] / total for r in listed}
        else:  # node 5: nothing to scale, the bill splits by the cost model's prices
            assert row["factor"] == 0
            cores, gib = NODES[node][:2]
            model = {
                "cpu": cores * MODEL["cpu_hourly_cost"],
                "ram": gib * MODEL["memory_hourly_cost"],
            }
            shares = {
                "cpu": model["cpu"] / sum(model.values()),
                "ram": model["ram"] / sum(model.values()),
                "gpu": 0.0,
            }
        for r in ("cpu", "ram", "gpu"):
            assert row[f"{r}_list_usd"] == pytest.approx(listed[r])
            assert row[f"{r}_bill_usd"] == pytest.approx(float(bill_usd) * shares[r]), (node, r)
        assert sum(row[f"{r}_bill_usd"] for r in ("cpu", "ram", "gpu")) == pytest.approx(
            float(bill_usd)
        )


def test_the_reserved_spot_and_negotiated_nodes_as_the_bill_prices_them(settings, tmp_path):
    load_node_days(settings)
    import_fixture(settings, tmp_path)
    billed, effective = factors(settings, "billed"), factors(settings, "effective")
    day = "2024-09-02"
    # Reserved: billed 0 (the purchase is the commitment's row), effective its amortized 2.40.
    assert billed[("n1", day)]["bill_usd"] == 0
    assert effective[("n1", day)]["bill_usd"] == pytest.approx(2.40)
    # Savings plan: billed 0, effective 0.75; the unused part (day 3) is not the node's.
    assert effective[("n2", "2024-09-03")]["bill_usd"] == pytest.approx(0.75)
    # Spot and negotiated: billed = effective.
    assert billed[("n3", day)]["bill_usd"] == effective[("n3", day)]["bill_usd"] == 0.9
    assert billed[("n4", day)]["bill_usd"] == pytest.approx(2.70)
    # Billed in October's period for September 30's hours: on September 30.
    assert billed[("n4", "2024-09-30")]["bill_usd"] == pytest.approx(2.70)


def test_either_order_a_reimport_and_a_rerun_give_the_same_factors(settings, tmp_path):
    other = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "other")}))
    db = registry.open_database(other.mongo_uri, other.mongo_db)
    registry.add_account(db, ORG, "sim-cluster", TENANT, {"scrape_interval_seconds": STEP})

    load_node_days(settings)
    import_fixture(settings, tmp_path)
    import_fixture(other, tmp_path)
    load_node_days(other)
    for metric in METRIC_SOURCES:
        first = factors(settings, metric)
        assert factors(other, metric) == first
        import_fixture(settings, tmp_path)
        load_node_days(settings)
        assert factors(settings, metric) == first


def test_the_cli_prints_each_node_day_and_the_adjustment(settings, tmp_path):
    """`k8scost pricing reconciliation`: the node-days the bill prices, list beside bill."""
    load_node_days(settings)
    env = {"K8SCOST_DATA_DIR": settings.data_dir.as_posix()}
    arguments = ["pricing", "reconciliation", "--organization-id", ORG]
    days = ["--start-date", DAYS[0].isoformat(), "--end-date", DAYS[-1].isoformat()]
    no_bill = CliRunner().invoke(cli, [*arguments, *days], env=env)
    assert no_bill.exit_code == 0, no_bill.output
    assert no_bill.output.strip().splitlines()[-1] == (
        "0 node-days priced by a bill: list 0.000000 USD, billed 0.000000 USD, "
        "adjustment +0.000000 USD"
    )
    import_fixture(settings, tmp_path)
    done = CliRunner().invoke(cli, [*arguments, *days, "--metric", "effective"], env=env)
    assert done.exit_code == 0, done.output
    expected = truth("effective")
    listed = sum(sum(list_usd(node).values()) for node, _ in expected)
    billed = float(sum(expected.values()))
    *rows, last = done.output.strip().splitlines()
    assert len(rows) == 1 + len(expected)  # a header, then a line per node-day
    assert last == (
        f"{len(expected)} node-days priced by a bill: list {listed:.6f} USD, effective "
        f"{billed:.6f} USD, adjustment {billed - listed:+.6f} USD"
    )
    refused = CliRunner().invoke(cli, [*arguments, "--start-date", "x", "--end-date", "y"], env=env)
    assert refused.exit_code == 1 and "Error" in refused.output
