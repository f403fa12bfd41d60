"""k8s_costs with the nodes priced from the bill (sql/schema/010_k8s_allocation_reconciled.sql).

A small cluster (tests/allocation_cluster.py) whose node VMs are in a bill made of the
commitments fixture's first day, moved to the cluster's day: node n1 under a
reservation, n2 under a savings plan, n3 spot, n4 negotiated, n5 with an exporter
list price of 0, n6 in no bill. Every expected figure is computed here: the rows'
list costs from the simulated prices, the bill from the fixture's text (Decimal),
each row scaled by its node's bill / list, a list-0 node's bill on its idle row split
by the cost model's shares. It must hold whichever side is loaded first, and after a
re-import and a rerun.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.auth import issue_token
from etl.bills import import_bill
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from tests import billed_cluster
from tests.allocation_cluster import DAY, MODEL
from tests.focus_bill import COMMITMENTS, ORG, rows, write_csv

VM = "arn:aws:ec2:us-east-1:222200000001:instance/i-0sim000000000000{}"
# (cores, GiB, $/core-h, $/GiB-h, VM number or None), alive the whole day.
NODES = {
    "n1": (4, 16, 0.025, 0.003, 1),
    "n2": (2, 8, 0.02, 0.002, 2),
    "n3": (4, 16, 0.04, 0.005, 3),
    "n4": (4, 32, 0.02, 0.001, 4),
    "n5": (2, 8, 0.0, 0.0, 5),
    "n6": (2, 4, 0.03, 0.004, None),
}
# (uid, node, hours from midnight, cores, GiB, namespace)
PODS = [
    ("a1", "n1", 24, 2, 8, "team-a"),
    ("a2", "n4", 12, 2, 16, "team-a"),
    ("b1", "n3", 24, 4, 8, "team-b"),
    ("b2", "n5", 24, 1, 4, "team-b"),
    ("b3", "n6", 24, 1, 2, "team-b"),
]
SOURCES = {"billed": "BilledCost", "effective": "EffectiveCost", "list": "ListCost"}
NODE_5_ROW = {"BilledCost": "1.20", "EffectiveCost": "1.10", "ListCost": "1.50"}


def bill() -> list[dict[str, str]]:
    """The fixture's rows charged on its first day, on the cluster's day, and node 5's."""
    moved = []
    for row in rows(COMMITMENTS):
        if row["ChargePeriodStart"].startswith("2024-09-01"):
            moved.append(
                {
                    key: value.replace("2024-09-01", "2026-06-01")
                    .replace("2024-09-02", "2026-06-02")
                    .replace("2024-10-01", "2026-07-01")
                    .replace("2025-09-01", "2027-06-01")
                    for key, value in row.items()
                }
            )
    (node_4,) = [row for row in moved if row["ResourceId"] == VM.format(4)]
    return [*moved, {**node_4, **NODE_5_ROW, "ResourceId": VM.format(5), "ResourceName": "n5"}]


def node_bill(metric: str) -> dict[str, Decimal]:
    """Node -> Σ of the metric's column over its VM's rows (purchases are the
    commitments' own rows, never a VM's)."""
    by_vm = {VM.format(n[4]): name for name, n in NODES.items() if n[4]}
    found: dict[str, Decimal] = defaultdict(Decimal)
    for row in bill():
        if row["ResourceId"] in by_vm:
            found[by_vm[row["ResourceId"]]] += Decimal(row[SOURCES[metric]])
    return dict(found)


def truth(metric: str) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per namespace (and `__idle__`): cpu and ram cost in the metric; and per namespace
    the list cost."""
    listed: dict[str, dict[str, float]] = defaultdict(lambda: {"cpu": 0.0, "ram": 0.0})
    on_node: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for _, node, hours, cores, gib, namespace in PODS:
        _, _, core_price, gib_price, _ = NODES[node]
        on_node[node].append((namespace, cores * core_price * hours, gib * gib_price * hours))
    for node, (cores, gib, core_price, gib_price, _) in NODES.items():
        used_cpu = sum(cpu for _, cpu, _ in on_node[node])
        used_ram = sum(ram for _, _, ram in on_node[node])
        idle = ("__idle__", cores * core_price * 24 - used_cpu, gib * gib_price * 24 - used_ram)
        on_node[node].append(idle)
    bills = {} if metric == "list" else node_bill(metric)
    costs: dict[str, dict[str, float]] = defaultdict(lambda: {"cpu": 0.0, "ram": 0.0})
    for node, parts in on_node.items():
        cores, gib, core_price, gib_price, _ = NODES[node]
        node_list = (cores * core_price + gib * gib_price) * 24
        for namespace, cpu, ram in parts:
            listed[namespace]["cpu"] += cpu
            listed[namespace]["ram"] += ram
            if node not in bills:
                factor = 1.0
            elif node_list:
                factor = float(bills[node]) / node_list
            else:  # n5: the bill on its idle row, split as the cost model prices it
                factor = 0.0
                if namespace == "__idle__":
                    model = (cores * MODEL["cpu_hourly_cost"], gib * MODEL["memory_hourly_cost"])
                    costs[namespace]["cpu"] += float(bills[node]) * model[0] / sum(model)
                    costs[namespace]["ram"] += float(bills[node]) * model[1] / sum(model)
            costs[namespace]["cpu"] += cpu * factor
            costs[namespace]["ram"] += ram * factor
    return dict(costs), {ns: parts["cpu"] + parts["ram"] for ns, parts in listed.items()}


def make_settings(root: Path) -> Settings:
    return billed_cluster.make_settings(root, ORG)


def load_cluster(settings: Settings) -> None:
    billed_cluster.load_day(settings, DAY, NODES, PODS)


def import_fixture(settings: Settings, root: Path) -> None:
    import_bill(settings, ORG, write_csv(root / "bill.csv", bill()))


def k8s_costs(settings: Settings, metric: str) -> dict[str, Any]:
    app = create_app(settings)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    token = issue_token(db, ORG)
    day = day_start_epoch(DAY)
    response = app.test_client().get(
        f"/restapi/v2/organizations/{ORG}/k8s_costs",
        query_string={"start_date": day, "end_date": day + 86399, "cost_metric": metric},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("metric", ["effective", "billed", "list"])
def test_each_namespace_costs_its_nodes_bill_share(tmp_path, metric):
    settings = make_settings(tmp_path / "data")
    load_cluster(settings)
    import_fixture(settings, tmp_path)

    answer = k8s_costs(settings, metric)

    costs, listed = truth(metric)
    groups = {group["key"]: group for group in answer["groups"]}
    assert sorted(groups) == sorted(costs)
    for namespace, expected in costs.items():
        assert groups[namespace]["cpu_cost"] == pytest.approx(expected["cpu"], abs=1e-9)
        assert groups[namespace]["ram_cost"] == pytest.approx(expected["ram"], abs=1e-9)
        assert groups[namespace]["cost"] == pytest.approx(sum(expected.values()), abs=1e-9)
        assert groups[namespace]["list_cost"] == pytest.approx(listed[namespace], abs=1e-9)
    # The cluster's total: each matched node at its bill, n6 at its list.
    n6 = NODES["n6"]
    bills = node_bill(metric) if metric != "list" else None
    if bills is not None:
        expected_total = float(sum(bills.values())) + (n6[0] * n6[2] + n6[1] * n6[3]) * 24
        assert answer["total_cost"] == pytest.approx(expected_total, abs=1e-9)
    assert answer["totals"]["list_cost"] == pytest.approx(sum(listed.values()), abs=1e-9)


def by_key(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["key"]: group for group in answer["groups"]}


def same_groups(answer: dict[str, Any]) -> dict[str, Any]:
    """The groups, to be compared to a billionth of a dollar: a rerun's cancel rows change
    the order of the collapsed sums, so the last bit of a float."""
    return {
        key: {
            name: pytest.approx(value, abs=1e-9) if isinstance(value, float) else value
            for name, value in group.items()
        }
        for key, group in by_key(answer).items()
    }


def test_either_order_a_reimport_and_a_rerun_give_the_same_answer(tmp_path):
    first = make_settings(tmp_path / "first")
    load_cluster(first)
    import_fixture(first, tmp_path)
    other = make_settings(tmp_path / "other")
    import_fixture(other, tmp_path)
    load_cluster(other)
    for metric in ("effective", "billed"):
        answer = same_groups(k8s_costs(first, metric))
        assert by_key(k8s_costs(other, metric)) == answer
        import_fixture(first, tmp_path)
        load_cluster(first)
        assert by_key(k8s_costs(first, metric)) == answer
