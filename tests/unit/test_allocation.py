"""The allocation transform on small hand-made answers, against figures worked out by hand.

Hourly steps keep the arithmetic readable: a price summed over n steps is price x n,
and n steps are n hours.
"""

from __future__ import annotations

import pytest

from etl.costmodel.allocation import IDLE, UNMOUNTED
from etl.costmodel.allocation.reconcile import reconcile
from tests.allocation_cluster import GIB, LO, PRICES, STEP, Cluster, row


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
