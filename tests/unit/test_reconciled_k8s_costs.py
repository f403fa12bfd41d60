"""The allocation's readers with nodes and PVs priced from the bill
(sql/schema/010_k8s_allocation_reconciled.sql, 013_pv_bill_factors.sql,
014_cluster_bill_adjustments.sql).

A small cluster (tests/allocation_cluster.py) whose node VMs are in a bill made of the
commitments fixture's first day, moved to the cluster's day: node n1 under a
reservation, n2 under a savings plan, n3 spot, n4 negotiated, n5 with an exporter
list price of 0, n6 in no bill; PV pv-a, mounted in part by pod a1, whose disk is in
the bill, and pv-b, mounted by b1, whose disk is not. Every expected figure is
computed here: the rows' list costs from the simulated prices, the bill from the
fixture's text (Decimal), each row scaled by its node's (or PV's) bill / list, a
list-0 node's bill on its idle row split by the cost model's shares. It must hold
whichever side is loaded first, and after a re-import and a rerun, in k8s_costs, in
clean_expenses' allocation filter, in the budgets' and the anomaly alerts' reads, and
in the per-cluster-day adjustments the expense side adds.
"""

from __future__ import annotations

from collections import defaultdict
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
from etl.storage import costreads, nodedays, pricing, registry
from etl.storage.clickhouse import connect
from etl.worker.pipeline import transform_and_load
from tests.allocation_cluster import DAY, GIB, LO, MODEL, STEP, Cluster
from tests.focus_bill import COMMITMENTS, ORG, rows, write_csv
from tests.schema import with_schema

TENANT = "tenant-sim"
CONFIG = {"scrape_interval_seconds": STEP, "cost_model": dict(MODEL)}
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
# PVs: (GiB, $/GiB-h, provider id, pod mounting it, GiB it claims), a whole day each.
PVS = {
    "pv-a": (100, 0.0002, "vol-0simdisk1", "a1", 40),
    "pv-b": (50, 0.0003, "vol-0simdisk2", "b1", 50),
}
DISK = "arn:aws:ec2:us-east-1:222200000001:volume/{}"
DISK_ROW = {"BilledCost": "0.36", "EffectiveCost": "0.33", "ListCost": "0.50"}


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
    disk = {**node_4, **DISK_ROW, "ResourceId": DISK.format(PVS["pv-a"][2]), "ResourceName": "d1"}
    return [
        *moved,
        {**node_4, **NODE_5_ROW, "ResourceId": VM.format(5), "ResourceName": "n5"},
        disk,
    ]


def node_bill(metric: str) -> dict[str, Decimal]:
    """Node -> Σ of the metric's column over its VM's rows (purchases are the
    commitments' own rows, never a VM's)."""
    by_vm = {VM.format(n[4]): name for name, n in NODES.items() if n[4]}
    found: dict[str, Decimal] = defaultdict(Decimal)
    for row in bill():
        if row["ResourceId"] in by_vm:
            found[by_vm[row["ResourceId"]]] += Decimal(row[SOURCES[metric]])
    return dict(found)


def pv_truth(metric: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per namespace (`__unmounted__` included): pv cost in the metric, and at list. A
    PV's mounting pod carries its claim's GiB at the PV's price, `__unmounted__` the
    rest; both scale by the disk's bill / list where the bill has the disk (pv-a's)."""
    costs: dict[str, float] = defaultdict(float)
    listed: dict[str, float] = defaultdict(float)
    pod_namespaces = {uid: namespace for uid, *_, namespace in PODS}
    for name, (gib, price, _, uid, claimed) in PVS.items():
        pv_list = gib * price * 24
        billed = metric != "list" and name == "pv-a"
        factor = float(Decimal(DISK_ROW[SOURCES[metric]])) / pv_list if billed else 1.0
        mounted = claimed * price * 24
        for namespace, part in (
            (pod_namespaces[uid], mounted),
            ("__unmounted__", pv_list - mounted),
        ):
            listed[namespace] += part
            costs[namespace] += part * factor
    return dict(costs), dict(listed)


def truth(metric: str) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per namespace (and `__idle__`, `__unmounted__`): cpu, ram and pv cost in the
    metric; and per namespace the list cost."""
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
    pv_costs, pv_listed = pv_truth(metric)
    namespaces = sorted({*costs, *pv_costs})
    zero = {"cpu": 0.0, "ram": 0.0}
    result = {ns: {**costs.get(ns, zero), "pv": pv_costs.get(ns, 0.0)} for ns in namespaces}
    return result, {
        ns: sum(listed.get(ns, zero).values()) + pv_listed.get(ns, 0.0) for ns in namespaces
    }


def make_settings(root: Path) -> Settings:
    settings = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(root)}))
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.add_account(db, ORG, "sim-cluster", TENANT, CONFIG)
    return settings


def load_cluster(settings: Settings) -> None:
    built = Cluster()
    for node, (cores, gib, core_price, gib_price, vm) in NODES.items():
        built.node(node, 24, cores, gib, {"cpu": core_price, "ram": gib_price})
        provider_id = f"aws:///us-east-1a/i-0sim000000000000{vm}" if vm else "aws:///x/i-0nobill"
        built.add("node_provider_ids", 1.0, node=node, provider_id=provider_id, region="")
    for uid, node, hours, cores, gib, namespace in PODS:
        built.pod(uid, node, 0, hours, cores=cores, ram_gib=gib, namespace=namespace)
    for name, (gib, price, provider_id, uid, claimed) in PVS.items():
        built.add("pv_bytes", gib * GIB, persistentvolume=name)
        built.add("pv_price_samples", price * 24, persistentvolume=name)
        built.change("pv_price_changes", 0, price, persistentvolume=name)
        built.add("pv_provider_ids", 1.0, persistentvolume=name, provider_id=provider_id)
        namespace = {pod[0]: pod[5] for pod in PODS}[uid]
        claim = {"namespace": namespace, "pod": f"pod-{uid}", "persistentvolume": name}
        built.add("claim_bytes", claimed * GIB, **claim)
        built.add("claim_first_seen", LO, **claim)
        built.add("claim_last_seen", LO + 23 * STEP, **claim)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.ClusterAccount.from_document(registry.account_document(db, TENANT))
    transform_and_load(settings, db, account, DAY, built.answers())


def import_fixture(settings: Settings, root: Path) -> None:
    import_bill(settings, ORG, write_csv(root / "bill.csv", bill()))


def k8s_costs(settings: Settings, metric: str, **options: str) -> dict[str, Any]:
    app = create_app(settings)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    token = issue_token(db, ORG)
    day = day_start_epoch(DAY)
    query = {"start_date": day, "end_date": day + 86399, "cost_metric": metric, **options}
    response = app.test_client().get(
        f"/restapi/v2/organizations/{ORG}/k8s_costs",
        query_string=query,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The cluster and its bill, loaded once for the readers' tests."""
    root = tmp_path_factory.mktemp("readers")
    settings = make_settings(root / "data")
    load_cluster(settings)
    import_fixture(settings, root)
    return settings


@pytest.mark.parametrize("metric", ["effective", "billed", "list"])
def test_each_namespace_costs_its_nodes_bill_share(loaded, metric):
    answer = k8s_costs(loaded, metric)

    costs, listed = truth(metric)
    groups = {group["key"]: group for group in answer["groups"]}
    assert sorted(groups) == sorted(costs)
    for namespace, expected in costs.items():
        assert groups[namespace]["cpu_cost"] == pytest.approx(expected["cpu"], abs=1e-9)
        assert groups[namespace]["ram_cost"] == pytest.approx(expected["ram"], abs=1e-9)
        assert groups[namespace]["pv_cost"] == pytest.approx(expected["pv"], abs=1e-9)
        assert groups[namespace]["cost"] == pytest.approx(sum(expected.values()), abs=1e-9)
        assert groups[namespace]["list_cost"] == pytest.approx(listed[namespace], abs=1e-9)
    # The cluster's total: each matched node and disk at its bill, n6 and pv-b at list.
    if metric != "list":
        n6, pv_b = NODES["n6"], PVS["pv-b"]
        unbilled = (n6[0] * n6[2] + n6[1] * n6[3]) * 24 + pv_b[0] * pv_b[1] * 24
        billed = sum(node_bill(metric).values()) + Decimal(DISK_ROW[SOURCES[metric]])
        assert answer["total_cost"] == pytest.approx(float(billed) + unbilled, abs=1e-9)
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
        costs, _ = truth(metric)
        assert {key: group["cost"] for key, group in answer.items()} == {
            namespace: pytest.approx(sum(parts.values()), abs=1e-9)
            for namespace, parts in costs.items()
        }
        assert by_key(k8s_costs(other, metric)) == answer
        import_fixture(first, tmp_path)
        load_cluster(first)
        assert by_key(k8s_costs(first, metric)) == answer


def test_each_row_keeps_its_list_figure(loaded):
    """Under billed and effective, every group's list_cost is its cost under `list`."""
    at_list = {key: group["cost"] for key, group in by_key(k8s_costs(loaded, "list")).items()}
    for metric in ("effective", "billed"):
        listed = {
            key: group["list_cost"] for key, group in by_key(k8s_costs(loaded, metric)).items()
        }
        assert listed == {key: pytest.approx(cost, abs=1e-12) for key, cost in at_list.items()}


def test_sharing_spreads_the_reconciled_cost(loaded):
    """Idle shared by weight: the groups still add up to the reconciled cluster, and the
    idle each receives is the reconciled idle (n1..n5 at their bill)."""
    costs, _ = truth("effective")
    answer = k8s_costs(loaded, "effective", share_idle="weighted")
    total = sum(sum(parts.values()) for parts in costs.values())
    assert answer["total_cost"] == pytest.approx(total, abs=1e-9)
    shared_idle = sum(group["shared"]["idle"] for group in answer["groups"])
    idle = costs["__idle__"]
    assert shared_idle == pytest.approx(idle["cpu"] + idle["ram"], abs=1e-9)


@pytest.mark.parametrize("metric", ["effective", "billed", "list"])
def test_the_adjustments_are_what_the_rows_add(loaded, metric):
    """cluster_bill_adjustments (what the expense side adds to the cluster's exporter
    cost) per component: the truth's reconciled sums minus its list sums."""
    db = registry.open_database(loaded.mongo_uri, loaded.mongo_db)
    with connect(loaded.clickhouse_dsn) as client:
        frame = nodedays.bill_adjustments(
            client, [TENANT], DAY, DAY, nodedays.organization_bill(db, ORG, metric)
        )
    if metric == "list":
        assert frame.empty
        return
    costs, _ = truth(metric)
    at_list, _ = truth("list")
    (row,) = frame.to_dict("records")
    assert (row["cloud_account_id"], row["date"]) == (TENANT, DAY)
    for part in ("cpu", "ram", "pv"):
        change = sum(c[part] for c in costs.values()) - sum(c[part] for c in at_list.values())
        assert row[f"{part}_adjustment"] == pytest.approx(change, abs=1e-9)
    assert row["gpu_adjustment"] == 0
    total = sum(map(sum, (c.values() for c in costs.values())))
    total_list = sum(map(sum, (c.values() for c in at_list.values())))
    assert row["adjustment"] == pytest.approx(total - total_list, abs=1e-9)
    assert (row["matched_nodes"], row["matched_volumes"]) == (5, 1)
    assert row["bill_usd"] - row["list_usd"] == pytest.approx(row["adjustment"], abs=1e-9)
    bill_total = sum(node_bill(metric).values()) + Decimal(DISK_ROW[SOURCES[metric]])
    assert row["bill_usd"] == pytest.approx(float(bill_total), abs=1e-9)


def test_budgets_alerts_and_allocation_filters_read_the_reconciled_figure(loaded):
    costs, _ = truth("effective")
    team_a = sum(costs["team-a"].values())
    db = registry.open_database(loaded.mongo_uri, loaded.mongo_db)
    with connect(loaded.clickhouse_dsn) as client:
        reader = budgets.SpendReader(client, db, "effective")
        budget = {"organization_id": ORG, "scope": "namespace:team-a"}
        assert reader.daily(budget, DAY, DAY) == {(TENANT, DAY): pytest.approx(team_a, abs=1e-9)}
        # The anomaly alerts read the organization's default metric.
        pricing.set_default_metric(db, ORG, "effective")
        bill = nodedays.organization_bill(db, ORG, pricing.default_metric(db, ORG))
        groups = costreads.allocation_groups(client, TENANT, DAY, DAY, bill)
    by_namespace = groups.groupby("namespace")["cost"].sum().to_dict()
    assert by_namespace == {
        namespace: pytest.approx(sum(parts.values()), abs=1e-9)
        for namespace, parts in costs.items()
    }
    # clean_expenses' allocation filter: the cluster costed from team-a's rows.
    app = create_app(loaded)
    day = day_start_epoch(DAY)
    response = app.test_client().get(
        f"/restapi/v2/organizations/{ORG}/clean_expenses",
        query_string={"start_date": day, "end_date": day + 86399, "k8s_namespace": "team-a"},
        headers={"Authorization": f"Bearer {issue_token(db, ORG)}"},
    )
    assert response.status_code == 200, response.get_json()
    (item,) = response.get_json()["clean_expenses"]
    assert item["cost"] == pytest.approx(team_a, abs=1e-9)
