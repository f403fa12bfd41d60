"""Issue #24's acceptance: one simulated cluster whose node VMs the commitments fixture bills.

The fixture (tests/fixtures/focus/focus_1_2_commitments.csv, written to the FOCUS
spec's commitment-discount examples) bills the VMs of four of the cluster's nodes:
sim-node-1 under a reservation (BilledCost 0, EffectiveCost amortized, the upfront
purchase a row of its own), sim-node-2 under a savings plan (with an unused-commitment
row), sim-node-3 spot, sim-node-4 on demand at a negotiated discount, its September 30
hours billed in October's period. A fifth node is in no bill (a K8s-only cost). The
cluster is loaded on the fixture's September charge days. Every expected figure is
computed here, in Decimal: the nodes' list prices from the simulated prices, the
bill from the fixture's text. It must hold whichever side is loaded first, and after
a re-import and a rerun of every day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.auth import issue_token
from etl.alerts import budgets
from etl.bills import import_bill
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from etl.storage.clickhouse import connect
from tests.billed_cluster import load_day, make_settings
from tests.focus_bill import (
    COMMITMENTS,
    MILLIONTH,
    ORG,
    column_total,
    exact,
    focus_cost,
    rows,
    write_csv,
)

pytestmark = pytest.mark.slow  # minutes: `make test` starts this file first

DAYS = (date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3), date(2024, 9, 30))
SEPTEMBER = {
    "start_date": day_start_epoch(date(2024, 9, 1)),
    "end_date": day_start_epoch(date(2024, 9, 30)) + 86399,
}
VM = "arn:aws:ec2:us-east-1:222200000001:instance/i-0sim000000000000{}"
# (cores, GiB, $/core-h, $/GiB-h, VM number or None), alive every loaded day.
NODES = {
    "sim-node-1": (4, 16, "0.025", "0.003", 1),
    "sim-node-2": (2, 8, "0.02", "0.002", 2),
    "sim-node-3": (4, 16, "0.04", "0.005", 3),
    "sim-node-4": (4, 32, "0.02", "0.001", 4),
    "sim-node-5": (2, 4, "0.03", "0.004", None),
}
# (uid, node, hours from midnight, cores, GiB, namespace), every loaded day.
PODS = [
    ("a1", "sim-node-1", 24, 2, 8, "team-a"),
    ("a2", "sim-node-4", 12, 2, 16, "team-a"),
    ("b1", "sim-node-3", 24, 4, 8, "team-b"),
    ("b2", "sim-node-2", 24, 1, 4, "team-b"),
    ("b3", "sim-node-5", 24, 1, 2, "team-b"),
]
SOURCES = {"billed": "BilledCost", "effective": "EffectiveCost"}


def node_list(node: str) -> tuple[Decimal, Decimal]:
    """A node's cpu and ram cost in a day at the simulator's (list) prices."""
    cores, gib, core_price, gib_price, _ = NODES[node]
    return cores * Decimal(core_price) * 24, gib * Decimal(gib_price) * 24


def node_bills(metric: str) -> dict[tuple[str, date], Decimal]:
    """(node, charge day) -> Σ of the metric's column over its VM's rows charged that day."""
    by_vm = {VM.format(vm): node for node, (*_, vm) in NODES.items() if vm}
    found: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for row in rows(COMMITMENTS):
        if row["ResourceId"] in by_vm:
            day = date.fromisoformat(row["ChargePeriodStart"][:10])
            found[(by_vm[row["ResourceId"]], day)] += focus_cost(row, SOURCES[metric])
    return dict(found)


def cluster_truth(metric: str) -> dict[str, Any]:
    """The cluster over the loaded days: cost per day, cpu and ram per namespace (and
    `__idle__`), what was reconciled, and its K8s-only cost (the node-days no bill prices)."""
    bills = node_bills(metric)
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    namespaces: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"cpu": Decimal(0), "ram": Decimal(0)}
    )
    matched = {"node_days": 0, "list": Decimal(0), "bill": Decimal(0)}
    k8s_only = Decimal(0)
    for day in DAYS:
        for node in NODES:
            cpu, ram = node_list(node)
            bill = bills.get((node, day))
            factor = Decimal(1) if bill is None else bill / (cpu + ram)
            per_day[day] += (cpu + ram) * factor
            if bill is None:
                k8s_only += cpu + ram
            else:
                matched["node_days"] += 1
                matched["list"] += cpu + ram
                matched["bill"] += bill
            _, _, core_price, gib_price, _ = NODES[node]
            used_cpu = used_ram = Decimal(0)
            for _, on, hours, cores, gib, namespace in PODS:
                if on == node:
                    pod_cpu = cores * Decimal(core_price) * hours
                    pod_ram = gib * Decimal(gib_price) * hours
                    namespaces[namespace]["cpu"] += pod_cpu * factor
                    namespaces[namespace]["ram"] += pod_ram * factor
                    used_cpu, used_ram = used_cpu + pod_cpu, used_ram + pod_ram
            namespaces["__idle__"]["cpu"] += (cpu - used_cpu) * factor
            namespaces["__idle__"]["ram"] += (ram - used_ram) * factor
    return {
        "per_day": dict(per_day),
        "cost": sum(per_day.values(), Decimal(0)),
        "namespaces": dict(namespaces),
        "matched": matched,
        "k8s_only": k8s_only,
        "nodes": len({node for node, _ in bills}),
    }


def september_rows() -> list[dict[str, str]]:
    """The fixture's rows charged in September, whatever period billed them."""
    return [row for row in rows(COMMITMENTS) if row["ChargePeriodStart"].startswith("2024-09")]


def load_cluster(settings: Settings) -> None:
    """Every loaded day of the cluster (a second call reruns them)."""
    for day in DAYS:
        load_day(settings, day, NODES, PODS)


def import_fixture(settings: Settings, root: Path) -> None:
    import_bill(settings, ORG, write_csv(root / "bill.csv", rows(COMMITMENTS)))


def get(settings: Settings, endpoint: str, **query: Any) -> dict[str, Any]:
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    response = (
        create_app(settings)
        .test_client()
        .get(
            f"/restapi/v2/organizations/{ORG}/{endpoint}",
            query_string=query,
            headers={"Authorization": f"Bearer {issue_token(db, ORG)}"},
        )
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def money(value: Decimal) -> Decimal:
    return value.quantize(MILLIONTH)


def cluster_item(answer: dict[str, Any]) -> dict[str, Any]:
    (cluster,) = [item for item in answer["clean_expenses"] if "k8s_costs" in item]
    return cluster


def check_metric(settings: Settings, metric: str) -> None:
    """Every figure of the acceptance in `metric` (billed or effective)."""
    truth = cluster_truth(metric)
    answer = get(settings, "clean_expenses", **SEPTEMBER, cost_metric=metric)
    cluster = cluster_item(answer)

    # The cluster's cost: every matched node-day at its bill, the others at list.
    assert exact(cluster["cost"]) == money(truth["cost"])
    parts = cluster["k8s_costs"]
    assert exact(sum(parts.values())) == money(truth["cost"])
    expected_cpu = sum((ns["cpu"] for ns in truth["namespaces"].values()), Decimal(0))
    assert exact(parts["cpu_cost"]) == money(expected_cpu)
    assert parts["gpu_cost"] == 0
    matched = truth["matched"]
    assert cluster["reconciliation"] == {
        "cost_metric": metric,
        "matched_node_days": matched["node_days"],
        "matched_nodes": truth["nodes"],
        "matched_volume_days": 0,
        "matched_volumes": 0,
        "list_cost": pytest.approx(float(matched["list"]), abs=1e-9),
        "bill_cost": pytest.approx(float(matched["bill"]), abs=1e-9),
        "adjustment": pytest.approx(float(matched["bill"] - matched["list"]), abs=1e-9),
    }
    # A folded node's bill line is what the cluster carries for it.
    bills = node_bills(metric)
    for node in cluster["billed_nodes"]:
        name = node["name"]
        carried = sum((bills[(name, day)] for day in DAYS if (name, day) in bills), Decimal(0))
        assert exact(node["cost"]) == money(carried), name

    # The month: Σ of the metric's column over the rows charged in September (the
    # October-billed row of September 30 included, the unused commitment an item of its
    # own), plus what no bill prices: the K8s-only node-days.
    expected_total = column_total(september_rows(), SOURCES[metric]) + truth["k8s_only"]
    assert exact(answer["total_cost"]) == money(expected_total)
    assert exact(sum(item["cost"] for item in answer["clean_expenses"])) == money(expected_total)

    # Each namespace's cpu, ram and gpu in k8s_costs.
    groups = {
        group["key"]: group
        for group in get(settings, "k8s_costs", **SEPTEMBER, cost_metric=metric)["groups"]
    }
    assert sorted(groups) == sorted(truth["namespaces"])
    for namespace, expected in truth["namespaces"].items():
        assert exact(groups[namespace]["cpu_cost"]) == money(expected["cpu"]), namespace
        assert exact(groups[namespace]["ram_cost"]) == money(expected["ram"]), namespace
        assert groups[namespace]["gpu_cost"] == 0

    # The breakdown's days: the cluster's components add up to its cost that day (the
    # next period's row of September 30 lands on September 30), everything else is null.
    breakdown = get(
        settings,
        "breakdown_expenses",
        **SEPTEMBER,
        breakdown_by="k8s_component",
        cost_metric=metric,
    )
    for day in DAYS:
        bucket = breakdown["breakdown"][str(day_start_epoch(day))]
        cluster_day = sum(cost["cost"] for key, cost in bucket.items() if key != "null")
        assert exact(cluster_day) == money(truth["per_day"][day]), day
    assert exact(breakdown["total"]) == money(expected_total)

    # The organization's budget reads the same month; the cluster account's budget, the
    # cluster alone.
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    with connect(settings.clickhouse_dsn) as client:
        reader = budgets.SpendReader(client, db, metric)
        whole = {"organization_id": ORG, "scope": "organization"}
        spend = reader.daily(whole, DAYS[0], DAYS[-1])
        cluster_scope = {**whole, "scope": f"cloud_account_id:{cluster['cloud_account_id']}"}
        cluster_spend = reader.daily(cluster_scope, DAYS[0], DAYS[-1])
    assert exact(sum(spend.values())) == money(expected_total)
    assert {day: exact(cost) for (_, day), cost in cluster_spend.items()} == {
        day: money(cost) for day, cost in truth["per_day"].items()
    }


def same_answers(settings: Settings) -> dict[str, Any]:
    """What the acceptance reads, to compare between orders (to a billionth: cancel rows
    change the order of the collapsed sums, so the last bit of a float)."""
    found = {}
    for metric in SOURCES:
        answer = get(settings, "clean_expenses", **SEPTEMBER, cost_metric=metric)
        found[metric] = {
            item["resource_id"]: pytest.approx(item["cost"], abs=1e-9)
            for item in answer["clean_expenses"]
        }
        found[metric]["reconciliation"] = cluster_item(answer)["reconciliation"][
            "matched_node_days"
        ]
    return found


@pytest.fixture(scope="module")
def cluster_then_bill(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The cluster loaded, then the fixture imported: built once for the tests that
    only read it (each metric's acceptance, the list and the invoice), since loading
    the cluster's days through the pipeline is most of what they cost."""
    root = tmp_path_factory.mktemp("cluster-then-bill")
    settings = make_settings(root / "data", ORG)
    load_cluster(settings)
    import_fixture(settings, root)
    return settings


@pytest.mark.parametrize("metric", list(SOURCES))
def test_the_cluster_and_the_month_reconcile_to_the_bill(
    cluster_then_bill: Settings, metric: str
) -> None:
    check_metric(cluster_then_bill, metric)


def test_either_order_a_reimport_and_a_rerun_give_the_acceptance(tmp_path: Path) -> None:
    bill_first = make_settings(tmp_path / "bill-first", ORG)
    import_fixture(bill_first, tmp_path)
    load_cluster(bill_first)
    for metric in SOURCES:
        check_metric(bill_first, metric)
    answers = same_answers(bill_first)

    import_fixture(bill_first, tmp_path)
    load_cluster(bill_first)
    assert same_answers(bill_first) == answers
    for metric in SOURCES:
        check_metric(bill_first, metric)


def test_list_is_the_exporter_s_price_and_an_invoice_its_rows(cluster_then_bill: Settings) -> None:
    settings = cluster_then_bill
    listed = cluster_item(get(settings, "clean_expenses", **SEPTEMBER, cost_metric="list"))
    every_list = sum((sum(node_list(node)) for node in NODES), Decimal(0)) * len(DAYS)
    assert exact(listed["cost"]) == money(every_list)
    assert listed["reconciliation"]["matched_node_days"] == 0
    assert listed["reconciliation"]["adjustment"] == 0
    # September's invoice is its rows as the bill has them: no cluster, nothing priced.
    invoice = get(settings, "clean_expenses", **SEPTEMBER, billing_period="2024-09")
    september_invoice = [
        r for r in rows(COMMITMENTS) if r["BillingPeriodStart"].startswith("2024-09")
    ]
    assert exact(invoice["total_cost"]) == column_total(september_invoice, "BilledCost")
