"""Property tests: on any cluster-day, one input gives one set of rows, and they add up.

Hypothesis draws cluster-days as the cost model receives them (tests/allocation_cluster.py's
answers, hourly steps): nodes that come and go mid-day, priced or not, with a spot price
that moves; pods of one to three containers, with or without allocation series, requests
and running series (no kube-state-metrics), asking for more than their node has; pod
names reused on another node; stale allocation series on a second node (HA and restart
leftovers). The answers' rows come in any order. The invariants (docs/allocation.md):

- the same answers in any row order give identical rows (and a second run the same);
- every component of the rows adds up to the asset view (1e-9 relative);
- no row is negative (idle included), beyond float rounding;
- every running container's pod has a row.

Examples are drawn derandomized (the same on every run and machine), as many as the
hypothesis profile says (tests/conftest.py; the README gives the counts).
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from etl.costmodel.allocation import allocate
from etl.costmodel.assets import day_costs
from tests.allocation_cluster import DAY, GIB, LO, MODEL, STEP, Cluster

HOURS = 24
COMPUTE = ("cpu_cost", "ram_cost", "gpu_cost")


@st.composite
def nodes(draw: st.DrawFn) -> list[dict]:
    found = []
    for n in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 12))
        found.append(
            {
                "name": f"node-{n}",
                "start": start,
                "end": draw(st.integers(start + 1, HOURS)),
                "cores": draw(st.integers(1, 8)),
                "ram_gib": draw(st.integers(1, 32)),
                "priced": draw(st.booleans()) or n == 0,
                "cpu_price": draw(st.sampled_from([0.02, 0.031611, 0.05])),
                "ram_price": draw(st.sampled_from([0.002, 0.004237])),
                "spot_change": draw(st.one_of(st.none(), st.integers(1, 23))),
            }
        )
    return found


@st.composite
def containers(draw: st.DrawFn) -> list[dict]:
    return [
        {
            "name": f"c{k}",
            "cores": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0, 6.0])),
            "ram_gib": draw(st.sampled_from([0.0, 0.25, 1.0, 8.0, 40.0])),
            "allocation": draw(st.booleans()),
            "request": draw(st.booleans()),
            "request_node": draw(st.booleans()),
            "stale_series_on": draw(st.one_of(st.none(), st.integers(0, 2))),
        }
        for k in range(draw(st.integers(1, 3)))
    ]


@st.composite
def cluster_days(draw: st.DrawFn) -> dict:
    drawn_nodes = draw(nodes())
    pods = []
    for p in range(draw(st.integers(0, 8))):
        node = draw(st.sampled_from(drawn_nodes))
        start = draw(st.integers(0, HOURS - 1))
        pods.append(
            {
                "uid": f"uid-{p}",
                "name": f"pod-{draw(st.integers(0, 4))}",  # names repeat: reuse
                "node": node["name"],
                "start": start,
                "end": draw(st.integers(start + 1, HOURS)),
                "containers": draw(containers()),
            }
        )
    return {
        "nodes": drawn_nodes,
        "pods": pods,
        "no_ksm": draw(st.booleans()),
        "order": draw(st.randoms(use_true_random=False)),
    }


def _price_at(node: dict, hour: int, resource: str) -> float:
    price = node[f"{resource}_price"]
    change = node["spot_change"]
    return price * 1.4 if change is not None and hour >= change else price


def build(day: dict) -> Cluster:
    """The cost model's answers for a drawn cluster-day."""
    cluster = Cluster()
    for node in day["nodes"]:
        hours = range(node["start"], node["end"])
        cluster.add("node_cpu_cores", node["cores"], node=node["name"])
        cluster.add("node_ram_bytes", node["ram_gib"] * GIB, node=node["name"])
        cluster.add("node_gpu_count", 0, node=node["name"])
        cluster.add("node_life_steps", len(hours), node=node["name"])
        if not node["priced"]:
            continue
        for resource in ("cpu", "ram"):
            samples = sum(_price_at(node, h, resource) for h in hours)
            cluster.add(f"node_{resource}_price_samples", samples, node=node["name"])
            previous = None
            for hour in hours:
                price = _price_at(node, hour, resource)
                if price != previous:
                    cluster.change(f"node_{resource}_price_changes", hour, price, node=node["name"])
                previous = price
    for pod in day["pods"]:
        _add_pod(cluster, day, pod)
    return cluster


def _add_pod(cluster: Cluster, day: dict, pod: dict) -> None:
    names = {"namespace": "ns", "pod": pod["name"]}
    first, last = LO + pod["start"] * STEP, LO + (pod["end"] - 1) * STEP
    for container in pod["containers"]:
        running = {**names, "container": container["name"], "uid": pod["uid"]}
        series = {**names, "container": container["name"], "uid": "", "node": pod["node"]}
        if not day["no_ksm"]:
            cluster.add("container_first_seen", first, **running)
            cluster.add("container_last_seen", last, **running)
        if container["allocation"] or day["no_ksm"]:
            cluster.add("container_allocation_first_seen", first, **series)
            cluster.add("container_allocation_last_seen", last, **series)
            cluster.add("container_cpu_allocation", container["cores"], **series)
            cluster.add("container_ram_allocation", container["ram_gib"] * GIB, **series)
        stale = container["stale_series_on"]
        if stale is not None and stale < len(day["nodes"]):
            other = {**series, "node": day["nodes"][stale]["name"]}
            cluster.add("container_allocation_first_seen", LO, **other)
            cluster.add("container_allocation_last_seen", LO, **other)
            cluster.add("container_cpu_allocation", container["cores"] / 2, **other)
        if container["request"]:
            node = pod["node"] if container["request_node"] else ""
            for resource, value in (
                ("cpu", container["cores"]),
                ("memory", container["ram_gib"] * GIB),
            ):
                cluster.add("container_requests", value, **running, node=node, resource=resource)
    cluster.add("pod_owners", 1, **names, uid="", owner_kind="Job", owner_name=pod["name"])


def _shuffled(answers: dict[str, pd.DataFrame], order) -> dict[str, pd.DataFrame]:
    shuffled = {}
    for name, frame in answers.items():
        positions = list(range(len(frame)))
        order.shuffle(positions)
        shuffled[name] = frame.iloc[positions].reset_index(drop=True)
    return shuffled


def _allocate(answers: dict[str, pd.DataFrame]):
    assets = day_costs(answers, STEP, MODEL)
    return assets, allocate(answers, DAY, STEP, assets, MODEL)


@given(cluster_days())
def test_any_cluster_day_costs_one_amount_that_adds_up(day: dict) -> None:
    answers = build(day).answers()
    assets, first = _allocate(answers)
    _, again = _allocate(answers)
    _, reordered = _allocate(_shuffled(answers, day["order"]))
    pd.testing.assert_frame_equal(again.rows, first.rows, check_exact=True)
    pd.testing.assert_frame_equal(reordered.rows, first.rows, check_exact=True)

    rows = first.rows
    scale = max(1.0, assets.total)
    for component in COMPUTE:
        assert math.isclose(
            rows[component].sum(), assets.breakdown[component], rel_tol=1e-9, abs_tol=1e-9
        ), component
        assert (rows[component] >= -1e-9 * scale).all(), (component, rows[component].min())
    for column in ("cpu_core_hours", "ram_gib_hours", "running_hours"):
        assert (rows[column] >= -1e-9 * scale).all(), column
    # Keyed by uid where kube-state-metrics sent one, else by namespace/name.
    ran = {pod["uid"] if not day["no_ksm"] else f"ns/{pod['name']}" for pod in day["pods"]}
    assert ran <= set(rows["pod_uid"])
