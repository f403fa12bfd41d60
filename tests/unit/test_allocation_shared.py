"""The allocation of shared things, on small hand-made answers, against figures worked out
by hand: load balancers and Services, egress, the management fee, controllers and labels,
row keys and the reconciliation; and the truth's own allocation against its asset view.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from devtools.simulate import build_scenario
from devtools.simulate.pitfalls import PITFALLS
from etl.costmodel.allocation import IDLE, UNMOUNTED
from etl.costmodel.allocation.reconcile import reconcile
from tests.allocation_cluster import GIB, LO, PRICES, STEP, Cluster, row
from tests.truth import (
    COST_KEYS,
    day_bounds,
    expected_allocation,
    expected_day_costs,
    overlap_s,
)


def test_a_load_balancer_is_split_between_the_selected_pods_running_at_each_instant():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    web = {"app": "web"}
    cluster.pod("a", "n1", 0, 24, namespace="web", labels=web)
    cluster.pod("b", "n1", 12, 24, namespace="web", labels=web)
    cluster.pod("c", "n1", 0, 24, namespace="web", labels={"app": "db"})
    lb = {"namespace": "web", "service_name": "lb"}
    cluster.add("load_balancer_rate_samples", 1.0 * 24, **lb)
    cluster.add("load_balancer_first_seen", LO, **lb)
    cluster.add("load_balancer_last_seen", LO + 23 * STEP, **lb)
    selector = json.dumps({"label_app": "web", "namespace": "web", "service": "lb"})
    cluster.add("service_selectors", 1, namespace="web", service="lb", labels=selector)
    idle_lb = {"namespace": "web", "service_name": "idle-lb"}
    cluster.add("load_balancer_rate_samples", 0.5 * 6, **idle_lb)
    cluster.add("load_balancer_first_seen", LO, **idle_lb)
    cluster.add("load_balancer_last_seen", LO + 5 * STEP, **idle_lb)
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="a")["load_balancer_cost"] == pytest.approx(12 + 6)
    assert row(allocation, pod_uid="b")["load_balancer_cost"] == pytest.approx(6)
    assert row(allocation, pod_uid="c")["load_balancer_cost"] == 0
    unmounted = row(allocation, namespace=UNMOUNTED, pod="service/web/idle-lb")
    assert unmounted["load_balancer_cost"] == pytest.approx(3)


def test_a_pod_names_the_services_of_its_namespace_whose_selector_matches_it():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    front = {"app": "web", "tier": "front"}
    cluster.pod("a", "n1", 0, 24, namespace="web", labels=front)
    cluster.pod("b", "n1", 0, 24, namespace="web", labels={"app": "web"})
    cluster.pod("c", "n1", 0, 24, namespace="shop", labels=front)
    cluster.pod("d", "n1", 0, 24, namespace="web")
    for namespace, service, selector in (
        ("web", "web-lb", {"app": "web"}),  # a load balancer, below
        ("web", "front", front),
        ("web", "headless", {}),  # no selector: selects nothing
        ("web", "db", {"app": "db"}),
        ("shop", "shop-front", {"tier": "front"}),
        ("web", "gone-lb", {"app": "gone"}),
    ):
        labels = {"namespace": namespace, "service": service}
        labels |= {f"label_{key}": value for key, value in selector.items()}
        cluster.add(
            "service_selectors", 1, namespace=namespace, service=service, labels=json.dumps(labels)
        )
    for service, rate in (("web-lb", 1.0), ("gone-lb", 0.5)):
        lb = {"namespace": "web", "service_name": service}
        cluster.add("load_balancer_rate_samples", rate * 24, **lb)
        cluster.add("load_balancer_first_seen", LO, **lb)
        cluster.add("load_balancer_last_seen", LO + 23 * STEP, **lb)
    cluster.add("pv_bytes", GIB, persistentvolume="pv1")
    cluster.add("pv_price_samples", 0.001 * 24, persistentvolume="pv1")
    cluster.change("pv_price_changes", 0, 0.001, persistentvolume="pv1")
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="a")["services"] == ["front", "web-lb"]
    assert row(allocation, pod_uid="b")["services"] == ["web-lb"]
    assert row(allocation, pod_uid="c")["services"] == ["shop-front"]
    assert row(allocation, pod_uid="d")["services"] == []
    gone = row(allocation, pod="service/web/gone-lb")
    assert gone["services"] == ["gone-lb"] and gone["load_balancer_cost"] == pytest.approx(12)
    assert row(allocation, pod="service/web/web-lb")["services"] == ["web-lb"]
    assert row(allocation, namespace=IDLE)["services"] == []
    assert row(allocation, pod="persistentvolume/pv1")["services"] == []


def test_a_pod_whose_services_change_is_a_new_row_key():
    def keys(selected: bool) -> dict[str, str]:
        cluster = Cluster()
        cluster.node("n1", 24, 4, 16, PRICES)
        cluster.pod("a", "n1", 0, 24, labels={"app": "web"})
        cluster.pod("b", "n1", 0, 24, labels={"app": "db"})
        selector = json.dumps({"label_app": "web" if selected else "other"})
        cluster.add("service_selectors", 1, namespace="ns", service="s", labels=selector)
        rows = cluster.allocate()[1].rows
        return dict(zip(rows["pod"], rows["resource_id"], strict=True))

    assert keys(True) == keys(True)
    assert keys(True)["pod-a"] != keys(False)["pod-a"]
    assert keys(True)["pod-b"] == keys(False)["pod-b"]


def test_egress_of_a_reused_name_is_split_by_hours_and_an_unknown_name_kept():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("old", "n1", 0, 6, name="db-0", owner=("StatefulSet", "db"))
    cluster.pod("new", "n1", 8, 24, name="db-0", owner=("StatefulSet", "db"))
    internet = {"internet": "true", "same_zone": "false", "same_region": "false"}
    cluster.add(
        "pod_network_egress_bytes",
        22 * GIB,
        namespace="ns",
        pod_name="db-0",
        service="x",
        **internet,
    )
    cluster.add(
        "pod_network_egress_bytes", GIB, namespace="ns", pod_name="gone", service="x", **internet
    )
    cluster.add("network_class_price", 0.09, **{"class": "internet"})
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="old")["network_cost"] == pytest.approx(22 * 0.09 * 6 / 22)
    assert row(allocation, pod_uid="new")["network_cost"] == pytest.approx(22 * 0.09 * 16 / 22)
    orphan = row(allocation, pod="gone")
    assert orphan["namespace"] == "ns" and orphan["network_cost"] == pytest.approx(0.09)


def test_a_pod_asking_more_than_its_node_has_gets_the_node_and_the_fee_follows_compute():
    cluster = Cluster()
    cluster.node("n1", 24, 1, 1, PRICES)
    cluster.pod("big", "n1", 0, 24, cores=3, ram_gib=0.5)  # three times n1's one core
    cluster.node("n2", 24, 2, 2, PRICES)
    cluster.add("management_rate_samples", 0.1 * 24, provisioner_name="EKS")
    _, allocation = cluster.allocate()
    big, idle1 = row(allocation, pod_uid="big"), row(allocation, namespace=IDLE, node="n1")
    idle2 = row(allocation, namespace=IDLE, node="n2")
    # Capped at the node's one core all day; its ram fits and is left as it is.
    assert big["cpu_cost"] == pytest.approx(1 * 24 * PRICES["cpu"])
    assert big["cpu_core_hours"] == pytest.approx(24)
    assert big["ram_cost"] == pytest.approx(0.5 * 24 * PRICES["ram"])
    assert idle1["cpu_cost"] == pytest.approx(0, abs=1e-12)
    assert idle1["ram_cost"] == pytest.approx(0.5 * 24 * PRICES["ram"])
    compute = {r["resource_id"]: r["cpu_cost"] + r["ram_cost"] for r in (big, idle1, idle2)}
    assert big["management_cost"] == pytest.approx(
        2.4 * compute[big["resource_id"]] / sum(compute.values())
    )
    fees = big["management_cost"] + idle1["management_cost"] + idle2["management_cost"]
    assert fees == pytest.approx(2.4)
    assert any("n1" in issue and "more cpu than it has" in issue for issue in allocation.issues)


def test_controllers_resolve_replicasets_and_labels_come_from_kube_state_metrics():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 0, 24, owner=("ReplicaSet", "web-5d8f"), labels={"team": "shop"})
    cluster.add(
        "replicaset_owners",
        1,
        namespace="ns",
        replicaset="web-5d8f",
        owner_kind="Deployment",
        owner_name="web",
    )
    cluster.add(
        "namespace_labels",
        1,
        namespace="ns",
        labels=json.dumps({"label_team": "x", "label_env": "prod"}),
    )
    _, allocation = cluster.allocate()
    pod = row(allocation, pod_uid="u1")
    assert (pod["controller_kind"], pod["controller"]) == ("Deployment", "web")
    assert pod["labels"] == {"team": "shop"}
    assert pod["namespace_labels"] == {"team": "x", "env": "prod"}


def test_row_keys_are_stable_and_follow_what_the_row_is():
    def key(labels: dict[str, str]) -> str:
        cluster = Cluster()
        cluster.node("n1", 24, 4, 16, PRICES)
        cluster.pod("u1", "n1", 0, 24, labels=labels)
        return row(cluster.allocate()[1], pod_uid="u1")["resource_id"]

    assert key({"team": "a"}) == key({"team": "a"})
    assert key({"team": "a"}) != key({"team": "b"})


def test_the_reconciliation_catches_a_pod_on_a_node_the_asset_view_does_not_know():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 0, 24)
    assets, allocation = cluster.allocate()
    check = reconcile(assets, allocation.rows)
    assert check.ok and check.problems() == []
    assert check.components["cpu_cost"]["pods"] == pytest.approx(0.05 * 24)
    cluster.pod("ghost", "unknown-node", 0, 24)
    assets, allocation = cluster.allocate()
    check = reconcile(assets, allocation.rows)
    assert not check.ok
    assert any(p.startswith("allocation does not reconcile on cpu_cost") for p in check.problems())
    assert any("unknown-node without a capacity series" in issue for issue in allocation.issues)


@pytest.mark.parametrize("pitfalls", [(), *((name,) for name in PITFALLS)])
def test_the_truth_allocation_adds_up_to_the_truth_asset_view(pitfalls):
    """The two truths agree (network aside: the allocation follows Prometheus' increase)."""
    scenario = build_scenario(
        1, 2, date(2026, 6, 2), seed=3, scrape_interval_s=900, pitfalls=pitfalls
    )
    tenant = scenario["clusters"][0]["tenant_id"]
    for day in map(date.fromisoformat, scenario["days"]):
        rows = expected_allocation(scenario, tenant, day)
        asset = expected_day_costs(scenario, tenant, day)
        for component in COST_KEYS:
            total = sum(r[component] for r in rows)
            tolerance = 1e-3 if component == "network_cost" else 1e-9
            assert total == pytest.approx(asset[component], rel=tolerance), component


def test_the_truth_services_are_the_pods_each_load_balancer_is_built_with():
    """The truth's selector rule agrees with the simulator's list of selected pods."""
    scenario = build_scenario(2, 2, date(2026, 6, 2), seed=3, scrape_interval_s=900)
    checked = 0
    for cluster in scenario["clusters"]:
        for day in map(date.fromisoformat, scenario["days"]):
            rows = expected_allocation(scenario, cluster["tenant_id"], day)
            pods = {row["pod"] for row in rows if row["namespace"] != UNMOUNTED}
            lo, hi = day_bounds(day)
            for lb in cluster["load_balancers"]:
                named = {row["pod"] for row in rows if lb["service_name"] in row["services"]}
                expected = set(lb["pods"]) & pods if overlap_s(lb, lo, hi) else set()
                assert named - {UNMOUNTED} == expected
                checked += len(expected)
    assert checked > 0


def test_the_worked_example_of_the_capacity_rules():
    """docs/allocation.md, "Same input, same money": A asks for 2 cores all day, B for 1
    from 12:00, on a 2-core node at $0.05 per core-hour ($2.40 of cpu)."""
    cluster = Cluster()
    cluster.node("n1", 24, 2, 4, PRICES)
    cluster.pod("a", "n1", 0, 24, cores=2, ram_gib=1)
    cluster.pod("b", "n1", 12, 24, cores=1, ram_gib=1)
    _, allocation = cluster.allocate()
    a, b = row(allocation, pod_uid="a"), row(allocation, pod_uid="b")
    idle = row(allocation, namespace=IDLE, node="n1")
    assert a["cpu_cost"] == pytest.approx(2 * 12 * 0.05 + 4 / 3 * 12 * 0.05)  # $2.00
    assert b["cpu_cost"] == pytest.approx(2 / 3 * 12 * 0.05)  # $0.40
    assert (a["cpu_core_hours"], b["cpu_core_hours"]) == pytest.approx((40, 8))  # 48 = 2 x 24
    assert idle["cpu_cost"] == pytest.approx(0, abs=1e-12)


def test_pods_seen_longer_than_their_node_cost_at_most_the_node():
    """The second rule: the node's series end at 18:00, A's run to midnight, so the pod's
    $2.40 of cpu is scaled to the node's $1.80."""
    cluster = Cluster()
    cluster.node("n1", 18, 2, 4, PRICES)
    cluster.pod("a", "n1", 0, 24, cores=2, ram_gib=1)
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="a")["cpu_cost"] == pytest.approx(2 * 18 * 0.05)
    assert row(allocation, namespace=IDLE, node="n1")["cpu_cost"] == pytest.approx(0, abs=1e-12)
    assert any("more than its" in issue and "n1" in issue for issue in allocation.issues)
