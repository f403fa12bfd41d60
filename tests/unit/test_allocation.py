"""The allocation transform on small hand-made answers, against figures worked out by hand.

Hourly steps keep the arithmetic readable: a price summed over n steps is price x n,
and n steps are n hours.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest

from devtools.simulate import build_scenario
from devtools.simulate.pitfalls import PITFALLS
from etl.core.days import day_start_epoch
from etl.costmodel.allocation import IDLE, UNMOUNTED, allocate
from etl.costmodel.allocation.reconcile import reconcile
from etl.costmodel.assets import cost_model, day_costs
from etl.metroculus.answers import ANSWERS
from tests.truth import (
    COST_KEYS,
    day_bounds,
    expected_allocation,
    expected_day_costs,
    overlap_s,
)

DAY = date(2026, 6, 1)
LO = day_start_epoch(DAY)
STEP = 3600
GIB = 2**30
MODEL = cost_model({"cost_model": {"cpu_hourly_cost": 0.02, "memory_hourly_cost": 0.002}})


class Cluster:
    """Builds the answers of a small cluster, one entity at a time."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {answer.name: [] for answer in ANSWERS}

    def add(self, query: str, value: float, **labels: Any) -> None:
        self.rows[query].append({**labels, "value": value})

    def node(self, name: str, hours: int, cores: float, ram_gib: float, prices: dict | None):
        """A node alive from 00:00 for `hours`, at constant `prices` ($ per unit-hour)."""
        self.add("node_cpu_cores", cores, node=name)
        self.add("node_ram_bytes", ram_gib * GIB, node=name)
        self.add("node_gpu_count", 0, node=name)
        self.add("node_life_steps", hours, node=name)
        for resource, price in (prices or {}).items():
            self.add(f"node_{resource}_price_samples", price * hours, node=name)
            self.change(f"node_{resource}_price_changes", 0, price, node=name)

    def change(self, query: str, hour: float, price: float, **labels: str) -> None:
        """A price change event: `price` from `hour` on."""
        self.add(query, 1, **labels, price=repr(price), at=str(LO + int(hour * STEP)))

    def pod(
        self,
        uid: str,
        node: str,
        start_h: int,
        end_h: int,
        cores: float = 1.0,
        ram_gib: float = 1.0,
        namespace: str = "ns",
        name: str | None = None,
        labels: dict[str, str] | None = None,
        owner: tuple[str, str] = ("Job", "job"),
    ) -> None:
        """A pod of one container running over hours [start_h, end_h), as OpenCost's
        current exporter describes it: its allocation series and kube_pod_owner carry no
        uid, kube-state-metrics' running and label series do (docs/exporters.md)."""
        name = name or f"pod-{uid}"
        pod = {"namespace": namespace, "pod": name}
        running = {**pod, "container": "main", "uid": uid}
        series = {**pod, "container": "main", "uid": "", "node": node}
        first, last = LO + start_h * STEP, LO + (end_h - 1) * STEP
        self.add("container_first_seen", first, **running)
        self.add("container_last_seen", last, **running)
        self.add("container_allocation_first_seen", first, **series)
        self.add("container_allocation_last_seen", last, **series)
        self.add("container_cpu_allocation", cores, **series)
        self.add("container_ram_allocation", ram_gib * GIB, **series)
        self.add("pod_owners", 1, **pod, uid="", owner_kind=owner[0], owner_name=owner[1])
        text = json.dumps({f"label_{k}": v for k, v in (labels or {}).items()})
        self.add("pod_labels", 1, **pod, uid=uid, labels=text)

    def request(self, uid: str, resource: str, value: float) -> None:
        """A kube-state-metrics request series of the pod `uid`'s container."""
        (pod,) = [r for r in self.rows["container_first_seen"] if r["uid"] == uid]
        names = {k: pod[k] for k in ("namespace", "pod", "container", "uid")}
        self.add("container_requests", value, **names, node="", resource=resource)

    def answers(self) -> dict[str, pd.DataFrame]:
        shaped = {}
        for answer in ANSWERS:
            shaped[answer.name] = pd.DataFrame(self.rows[answer.name], columns=answer.columns())
        return shaped

    def allocate(self):
        answers = self.answers()
        assets = day_costs(answers, STEP, MODEL)
        return assets, allocate(answers, DAY, STEP, assets, MODEL)


PRICES = {"cpu": 0.05, "ram": 0.01}


def row(allocation, **match: str) -> dict[str, Any]:
    (found,) = [r for r in allocation.rows.to_dict("records") if match.items() <= r.items()]
    return found


def test_a_pod_pays_the_larger_of_allocation_and_request_while_it_runs():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 2, 10, cores=0.5, ram_gib=2)
    cluster.request("u1", "cpu", 1.0)
    cluster.request("u1", "memory", GIB)
    _, allocation = cluster.allocate()
    pod = row(allocation, pod_uid="u1")
    assert pod["running_hours"] == 8
    assert pod["cpu_core_hours"] == 8 and pod["ram_gib_hours"] == 16
    assert pod["cpu_cost"] == pytest.approx(1.0 * 0.05 * 8)  # the request, 1 core
    assert pod["ram_cost"] == pytest.approx(2 * 0.01 * 8)  # the allocation, 2 GiB
    idle = row(allocation, namespace=IDLE, node="n1")
    assert idle["cpu_cost"] == pytest.approx(4 * 0.05 * 24 - 0.4)
    assert idle["cpu_core_hours"] == pytest.approx(4 * 24 - 8)
    assert allocation.total == pytest.approx(4 * 0.05 * 24 + 16 * 0.01 * 24)


def test_a_spot_price_change_is_paid_at_each_instant():
    cluster = Cluster()
    cluster.node("spot", 24, 8, 32, PRICES)
    cluster.change("node_cpu_price_changes", 12, 0.07, node="spot")
    cluster.rows["node_cpu_price_samples"] = [{"node": "spot", "value": 0.05 * 12 + 0.07 * 12}]
    cluster.pod("u1", "spot", 6, 18, cores=2)
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="u1")["cpu_cost"] == pytest.approx(2 * (0.05 * 6 + 0.07 * 6))
    idle = row(allocation, namespace=IDLE)
    assert idle["cpu_cost"] == pytest.approx(8 * (0.05 * 12 + 0.07 * 12) - 2 * 0.72)


def test_a_claim_is_shared_by_the_pods_mounting_it_and_the_rest_is_unmounted():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("a", "n1", 0, 24, name="web-a")
    cluster.pod("old", "n1", 0, 6, name="web-b")
    cluster.pod("new", "n1", 12, 24, name="web-b")  # the name again, another pod
    volume = {"persistentvolume": "pv1"}
    cluster.add("pv_bytes", 20 * GIB, **volume)
    cluster.add("pv_price_samples", 0.001 * 24, **volume)
    cluster.change("pv_price_changes", 0, 0.001, **volume)
    for pod, first, last in (("web-a", 0, 23), ("web-b", 0, 23)):
        claim = {"namespace": "ns", "pod": pod, **volume}
        cluster.add("claim_first_seen", LO + first * STEP, **claim)
        cluster.add("claim_last_seen", LO + last * STEP, **claim)
        cluster.add("claim_bytes", 10 * GIB, **claim)
    _, allocation = cluster.allocate()
    # 10 GiB x 0.001 $/GiB-h: alone 6 h of 24 for web-a, shared the other 18 h.
    assert row(allocation, pod_uid="a")["pv_cost"] == pytest.approx(0.01 * (6 + 18 / 2))
    assert row(allocation, pod_uid="old")["pv_cost"] == pytest.approx(0.01 * 6 / 2)
    assert row(allocation, pod_uid="new")["pv_cost"] == pytest.approx(0.01 * 12 / 2)
    unmounted = row(allocation, namespace=UNMOUNTED, pod="persistentvolume/pv1")
    assert unmounted["pv_cost"] == pytest.approx(20 * 0.001 * 24 - 0.01 * 24)


def test_a_name_reused_on_another_node_without_uids_is_two_pods_each_at_its_node():
    """OpenCost's allocation series carry no uid: each incarnation of `db-0` takes the
    series of its name whose life it overlaps, and so its own node's price."""
    cluster = Cluster()
    cluster.node("cheap", 24, 4, 16, {"cpu": 0.01, "ram": 0.001})
    cluster.node("dear", 24, 4, 16, {"cpu": 0.10, "ram": 0.001})
    cluster.pod("old", "cheap", 0, 10, cores=1, ram_gib=0, name="db-0")
    cluster.pod("new", "dear", 12, 24, cores=2, ram_gib=0, name="db-0")
    _, allocation = cluster.allocate()
    old, new = row(allocation, pod_uid="old"), row(allocation, pod_uid="new")
    assert (old["node"], new["node"]) == ("cheap", "dear")
    assert old["cpu_cost"] == pytest.approx(1 * 0.01 * 10)
    assert new["cpu_cost"] == pytest.approx(2 * 0.10 * 12)


def test_a_uid_is_used_where_both_sides_carry_it():
    """With OpenCost's uid-labelled series, the uid alone decides (same name, same node)."""
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("old", "n1", 0, 12, cores=1, name="db-0")
    cluster.pod("new", "n1", 12, 24, cores=3, name="db-0")
    for query in (
        "container_cpu_allocation",
        "container_ram_allocation",
        "container_allocation_first_seen",
        "container_allocation_last_seen",
    ):
        for entry, uid in zip(cluster.rows[query], ("old", "new"), strict=True):
            entry["uid"] = uid
    # Lives that do not tell the two apart: only the uid can.
    for entry in cluster.rows["container_allocation_first_seen"]:
        entry["value"] = LO
    for entry in cluster.rows["container_allocation_last_seen"]:
        entry["value"] = LO + 23 * STEP
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="old")["cpu_cost"] == pytest.approx(1 * 0.05 * 12)
    assert row(allocation, pod_uid="new")["cpu_cost"] == pytest.approx(3 * 0.05 * 12)


def test_owners_without_uids_still_name_the_controller():
    """OpenCost's own kube_pod_owner has namespace and pod but no uid."""
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 0, 24, owner=("StatefulSet", "db"))
    _, allocation = cluster.allocate()
    pod = row(allocation, pod_uid="u1")
    assert (pod["controller_kind"], pod["controller"]) == ("StatefulSet", "db")


def test_containers_that_cannot_be_joined_leave_their_cost_idle_and_say_so():
    """Allocation series without `node` (and no request naming one): the day loads,
    the node cost stays in __idle__, an issue names the containers and, since every
    container was allocated $0, a quality failure is raised."""
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 0, 24)
    cluster.pod("u2", "n1", 0, 24)
    for query in (
        "container_cpu_allocation",
        "container_ram_allocation",
        "container_allocation_first_seen",
        "container_allocation_last_seen",
    ):
        for entry in cluster.rows[query]:
            entry["node"] = ""
    assets, allocation = cluster.allocate()
    assert row(allocation, pod_uid="u1")["cost"] == pytest.approx(0.0, abs=1e-12)
    idle = row(allocation, namespace=IDLE, node="n1")
    assert idle["cpu_cost"] == pytest.approx(4 * 0.05 * 24)
    assert reconcile(assets, allocation.rows).ok
    assert any("2 of 2 running containers matched no" in issue for issue in allocation.issues)
    (failure,) = allocation.quality_failures
    assert "allocated cpu/ram/gpu cost is $0" in failure


def test_without_kube_state_metrics_a_container_lives_as_its_allocation_series():
    """No running series at all (OpenCost's KSM emitters off, no kube-state-metrics):
    the allocation series, which OpenCost emits only while a container runs, give the
    life; the day says so."""
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 2, 10, cores=1, ram_gib=0, name="web-1")
    cluster.rows["container_first_seen"] = []
    cluster.rows["container_last_seen"] = []
    _, allocation = cluster.allocate()
    pod = row(allocation, pod="web-1")
    assert pod["pod_uid"] == "ns/web-1"  # no series carried its uid
    assert pod["running_hours"] == 8 and pod["cpu_cost"] == pytest.approx(1 * 0.05 * 8)
    assert any("had no kube_pod_container_status_running" in i for i in allocation.issues)


def test_a_request_names_the_node_when_the_allocation_series_do_not():
    cluster = Cluster()
    cluster.node("n1", 24, 4, 16, PRICES)
    cluster.pod("u1", "n1", 0, 24, cores=1, ram_gib=0)
    for query in ("container_cpu_allocation", "container_ram_allocation"):
        cluster.rows[query] = []
    cluster.request("u1", "cpu", 2.0)
    cluster.rows["container_requests"][0]["node"] = "n1"
    _, allocation = cluster.allocate()
    assert row(allocation, pod_uid="u1")["cpu_cost"] == pytest.approx(2 * 0.05 * 24)
    assert allocation.quality_failures == []


def test_a_node_without_prices_is_priced_with_the_cost_model_and_flagged():
    cluster = Cluster()
    cluster.node("onprem", 24, 8, 32, None)
    cluster.pod("u1", "onprem", 0, 12, cores=2, ram_gib=4)
    cluster.pod("u2", "onprem", 0, 12, cores=0, ram_gib=0)
    assets, allocation = cluster.allocate()
    pod = row(allocation, pod_uid="u1")
    assert pod["cpu_cost"] == pytest.approx(2 * 12 * 0.02)
    assert pod["ram_cost"] == pytest.approx(4 * 12 * 0.002)
    assert pod["price_flag"] == "cost_model"
    assert row(allocation, pod_uid="u2")["price_flag"] == ""  # it used nothing so priced
    assert row(allocation, namespace=IDLE)["price_flag"] == "cost_model"
    assert assets.breakdown["cpu_cost"] == pytest.approx(8 * 24 * 0.02)
    assert any("onprem" in issue and "cost model" in issue for issue in assets.issues)


def test_an_implausible_price_never_reaches_the_bill():
    cluster = Cluster()
    cluster.node("gpu", 24, 4, 16, {"cpu": 3.8e8, "ram": 0.01})
    cluster.pod("u1", "gpu", 0, 24)
    assets, allocation = cluster.allocate()
    assert row(allocation, pod_uid="u1")["cpu_cost"] == pytest.approx(24 * 0.02)
    assert row(allocation, pod_uid="u1")["price_flag"] == "price_outlier"
    assert allocation.total < 10
    assert any("implausible cpu price of 3.8e+08" in issue for issue in assets.issues)


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


def test_the_management_fee_follows_compute_cost_and_a_negative_idle_gets_none():
    cluster = Cluster()
    cluster.node("n1", 24, 1, 1, PRICES)
    cluster.pod("big", "n1", 0, 24, cores=3, ram_gib=0.5)  # more than n1 has
    cluster.node("n2", 24, 2, 2, PRICES)
    cluster.add("management_rate_samples", 0.1 * 24, provisioner_name="EKS")
    _, allocation = cluster.allocate()
    big, idle1 = row(allocation, pod_uid="big"), row(allocation, namespace=IDLE, node="n1")
    idle2 = row(allocation, namespace=IDLE, node="n2")
    assert idle1["cpu_cost"] < 0 and idle1["management_cost"] == 0
    compute = {r["resource_id"]: r["cpu_cost"] + r["ram_cost"] for r in (big, idle2)}
    assert big["management_cost"] == pytest.approx(
        2.4 * compute[big["resource_id"]] / sum(compute.values())
    )
    assert big["management_cost"] + idle2["management_cost"] == pytest.approx(2.4)
    assert any("more cpu than it costs" in issue for issue in allocation.issues)


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
