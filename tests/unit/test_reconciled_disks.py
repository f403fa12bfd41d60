"""One rule for every reader: a billed disk folds into its cluster like a billed node VM.

The cluster and bill of tests/unit/test_reconciled_k8s_costs.py: nodes n1-n5 whose VMs
the bill prices (reserved, savings plan, spot, negotiated, a list-0 node), n6 in no
bill, PV pv-a whose disk the bill prices and pv-b whose disk it does not. The readers
of the cluster's own rows (clean_expenses' cluster item, breakdown_expenses, the
organization's budget) and of its allocation (k8s_costs) must give the same cluster,
equal to a truth computed here in Decimal from the bill's text and the simulated
prices; the disk's bill line is inside its cluster (not an item of its own), so the
items add up to the bill plus what only K8s prices (n6 and pv-b). In either import
order.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from etl.alerts import budgets
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from etl.storage.clickhouse import connect
from tests.allocation_cluster import DAY
from tests.focus_bill import ORG, column_total, exact
from tests.unit.test_reconciled_expenses import get, money
from tests.unit.test_reconciled_k8s_costs import (
    DISK,
    DISK_ROW,
    NODES,
    PVS,
    SOURCES,
    bill,
    import_fixture,
    load_cluster,
    make_settings,
    node_bill,
)

PERIOD = {"start_date": day_start_epoch(DAY), "end_date": day_start_epoch(DAY) + 86399}
BILLED_DISK = DISK.format(PVS["pv-a"][2])


def unbilled() -> Decimal:
    """What only K8s prices: n6 (no VM in the bill) and pv-b (no disk), a whole day."""
    cores, gib, core_price, gib_price, _ = NODES["n6"]
    gib_b, price_b, *_ = PVS["pv-b"]
    node = (cores * Decimal(str(core_price)) + gib * Decimal(str(gib_price))) * 24
    return node + gib_b * Decimal(str(price_b)) * 24


def cluster_truth(metric: str) -> Decimal:
    """The cluster's day: every billed node and the billed disk at the bill's figure
    in `metric`, the rest at list."""
    return sum(node_bill(metric).values(), Decimal(DISK_ROW[SOURCES[metric]]) + unbilled())


def matched_list() -> Decimal:
    """The exporter's price of what the bill prices: n1-n5 and pv-a."""
    nodes = sum(
        (
            (cores * Decimal(str(core)) + gib * Decimal(str(ram))) * 24
            for cores, gib, core, ram, vm in NODES.values()
            if vm
        ),
        Decimal(0),
    )
    gib, price, *_ = PVS["pv-a"]
    return nodes + gib * Decimal(str(price)) * 24


def check_readers(settings: Settings, metric: str) -> None:
    truth = cluster_truth(metric)
    invoice = column_total(bill(), SOURCES[metric]) + unbilled()

    answer = get(settings, "clean_expenses", **PERIOD, cost_metric=metric)
    (cluster,) = [item for item in answer["clean_expenses"] if "k8s_costs" in item]
    assert exact(cluster["cost"]) == money(truth)
    assert exact(sum(cluster["k8s_costs"].values())) == money(truth)
    # The disk is no item of its own on the cluster's day: its bill line is inside.
    items = {item.get("cloud_resource_id") for item in answer["clean_expenses"]}
    assert BILLED_DISK not in items
    folded = {node["cloud_resource_id"]: node["cost"] for node in cluster["billed_nodes"]}
    assert exact(folded[BILLED_DISK]) == money(Decimal(DISK_ROW[SOURCES[metric]]))
    assert exact(answer["total_cost"]) == money(invoice)
    assert exact(sum(item["cost"] for item in answer["clean_expenses"])) == money(invoice)
    bills = sum(node_bill(metric).values(), Decimal(DISK_ROW[SOURCES[metric]]))
    assert cluster["reconciliation"] == {
        "cost_metric": metric,
        "matched_node_days": 5,
        "matched_nodes": 5,
        "matched_volume_days": 1,
        "matched_volumes": 1,
        "list_cost": pytest.approx(float(matched_list()), abs=1e-9),
        "bill_cost": pytest.approx(float(bills), abs=1e-9),
        "adjustment": pytest.approx(float(bills - matched_list()), abs=1e-9),
    }

    # A filter that keeps the cluster (not the bill's account) changes nothing of it.
    only = get(
        settings,
        "clean_expenses",
        **PERIOD,
        cost_metric=metric,
        cloud_account_id=cluster["cloud_account_id"],
    )
    assert [item["cost"] for item in only["clean_expenses"]] == [cluster["cost"]]

    k8s_costs = get(settings, "k8s_costs", **PERIOD, cost_metric=metric)
    assert exact(k8s_costs["total_cost"]) == money(truth)

    breakdown = get(
        settings, "breakdown_expenses", **PERIOD, breakdown_by="k8s_component", cost_metric=metric
    )
    day = breakdown["breakdown"][str(day_start_epoch(DAY))]
    assert exact(sum(cost["cost"] for key, cost in day.items() if key != "null")) == money(truth)
    assert exact(breakdown["total"]) == money(invoice)

    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    with connect(settings.clickhouse_dsn) as client:
        spend = budgets.SpendReader(client, db, metric).daily(
            {"organization_id": ORG, "scope": "organization"}, DAY, DAY
        )
    assert exact(sum(spend.values())) == money(invoice)


@pytest.mark.parametrize("bill_first", [False, True])
def test_every_reader_folds_and_prices_the_billed_disk(tmp_path: Path, bill_first: bool) -> None:
    settings = make_settings(tmp_path / "data")
    if bill_first:
        import_fixture(settings, tmp_path)
    load_cluster(settings)
    if not bill_first:
        import_fixture(settings, tmp_path)

    for metric in ("effective", "billed"):
        check_readers(settings, metric)
