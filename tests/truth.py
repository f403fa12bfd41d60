"""Expected costs computed analytically from a simulator scenario.

Independent of the pipeline on purpose: nothing here reads the generated samples or
imports pipeline code, it only intersects each entity's life [start, end) with the UTC
day and multiplies hours by capacity and price (integrating piecewise prices). If the
pipeline and this file agree, they agree for independent reasons.

Asset view, per cluster-day:
- cpu = sum over nodes of cpu_cores x $/vCPU-h x hours; ram = GiB x $/GiB-h x hours;
  gpu = GPUs x $/GPU-h x hours;
- pv = capacity GiB x $/GiB-h x hours the PV existed (mounted or not);
- load_balancer = $/h x hours; management = fee $/h x hours the cluster existed;
- network = sum over egress classes of the day's bytes / 2^30 x the class $/GiB.
A node without prices, or with an implausible one (over 1,000 $ per unit-hour), is
priced with the cluster's cost model instead.

Allocation view (see `expected_allocation`): the same day split into rows per pod uid,
per node (`__idle__`) and per unmounted PV or load balancer (`__unmounted__`), each with
the Services it belongs to.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

DAY_S = 86400
GIB = 2**30
# Far above any real list price ($ per vCPU-, GiB- or GPU-hour), far below 3.8e8.
PLAUSIBLE_PRICE = 1000.0
MODEL_PRICE = {"cpu": "cpu_hourly_cost", "ram": "memory_hourly_cost", "gpu": "gpu_hourly_cost"}
COST_KEYS = (
    "cpu_cost",
    "ram_cost",
    "gpu_cost",
    "pv_cost",
    "load_balancer_cost",
    "network_cost",
    "management_cost",
)


def day_bounds(day: date) -> tuple[int, int]:
    """[00:00 UTC of `day`, 00:00 UTC of the next day) as Unix seconds."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return start, start + DAY_S


def overlap_s(entity: dict[str, Any], lo: int, hi: int) -> int:
    """Seconds of the entity's life [start, end) inside [lo, hi)."""
    return max(0, min(entity["end"], hi) - max(entity["start"], lo))


def integrate(pieces: Sequence[Sequence[float]], lo: int, hi: int) -> float:
    """Integral over [lo, hi) in $ x hours of a piecewise price [[from, price], ...]."""
    total = 0.0
    for i, (at, price) in enumerate(pieces):
        until = pieces[i + 1][0] if i + 1 < len(pieces) else hi
        seconds = max(0, min(until, hi) - max(at, lo))
        total += price * seconds / 3600
    return total


def node_prices(cluster: dict[str, Any], node: dict[str, Any], resource: str) -> list:
    """The node's price pieces for `resource`, or the cost model's when it has none or
    an implausible one."""
    pieces = node["prices"][resource]
    if node.get("priced", True) and all(price <= PLAUSIBLE_PRICE for _, price in pieces):
        return pieces
    return [[node["start"], cluster["cost_model"][MODEL_PRICE[resource]]]]


def cluster_of(scenario: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The scenario's cluster whose tenant is `tenant_id`."""
    for cluster in scenario["clusters"]:
        if cluster["tenant_id"] == tenant_id:
            return cluster
    raise KeyError(f"no cluster with tenant {tenant_id} in the scenario")


def node_asset(
    cluster: dict[str, Any], node: dict[str, Any], day_lo: int, day_hi: int
) -> dict[str, float]:
    """cpu, ram and gpu cost of the node over its life inside [day_lo, day_hi)."""
    lo, hi = max(node["start"], day_lo), min(node["end"], day_hi)
    capacity = {"cpu": node["cpu_cores"], "ram": node["ram_bytes"] / GIB, "gpu": node["gpu_count"]}
    return {
        resource: amount * integrate(node_prices(cluster, node, resource), lo, hi)
        for resource, amount in capacity.items()
    }


def expected_day_costs(scenario: dict[str, Any], tenant_id: str, day: date) -> dict[str, float]:
    """The asset-view cost breakdown (USD) of one cluster over one UTC day of the history."""
    if day.isoformat() not in scenario["days"]:
        raise ValueError(f"{day} is outside the scenario's history {scenario['days']}")
    cluster = cluster_of(scenario, tenant_id)
    day_lo, day_hi = day_bounds(day)
    costs = dict.fromkeys(COST_KEYS, 0.0)
    for node in cluster["nodes"]:
        for resource, cost in node_asset(cluster, node, day_lo, day_hi).items():
            costs[f"{resource}_cost"] += cost
    for pv in cluster["pvs"]:
        hours = overlap_s(pv, day_lo, day_hi) / 3600
        costs["pv_cost"] += pv["capacity_bytes"] / GIB * pv["price_per_gib_hour"] * hours
    for lb in cluster["load_balancers"]:
        costs["load_balancer_cost"] += lb["rate_per_hour"] * overlap_s(lb, day_lo, day_hi) / 3600
    prices = cluster["network_prices"]
    for pod in cluster["pods"]:
        seconds = overlap_s(pod, day_lo, day_hi)
        for egress_class, rate in pod["egress_bytes_per_s"].items():
            costs["network_cost"] += rate * seconds / GIB * prices[egress_class]
    fee = cluster["management_fee_per_hour"]
    costs["management_cost"] = fee * overlap_s(cluster, day_lo, day_hi) / 3600
    return costs


# --- Allocation view -------------------------------------------------------------------
#
# Conventions, restated here from docs/allocation.md (not imported from the pipeline):
# - a pod runs over [start, end) and costs max(request, usage) per container times the
#   integral of its node's price over that time (cpu, ram, gpu);
# - a PV's cost while pods mount it is split equally between them (each pays the claim's
#   request), the rest of the PV (unclaimed bytes, unmounted hours) is `__unmounted__`;
# - a load balancer's cost is split equally between the selected pods running at each
#   instant, and is `__unmounted__` while none runs;
# - network: what Prometheus' `increase` over [D - 1 ms, D+1] reports for each egress
#   counter series (namespace, pod name, class): its growth between the first and the last
#   sample of the day, extrapolated to the day edges by its own rules (half an interval
#   after a pod that stopped); a series shared by two pods of the same name is split in
#   proportion to each pod's growth;
# - `__idle__` per node = its cost minus what its pods cost;
# - the management fee is split in proportion to each row's cpu + ram + gpu cost
#   (idle included, negative ones counted as zero);
# - a pod's `services` are the sorted names of the Services (in the simulator: its load
#   balancers) alive that day in its namespace whose non-empty selector is a subset of
#   its labels; a load balancer's `__unmounted__` row has its own name; other rows none.

IDLE = "__idle__"
UNMOUNTED = "__unmounted__"
RESOURCES = ("cpu", "ram", "gpu")


def _row(
    namespace: str, controller: str, pod: str, node: str, services: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "controller": controller,
        "pod": pod,
        "node": node,
        "services": sorted(services),
    } | dict.fromkeys(COST_KEYS, 0.0)


def _services(cluster: dict[str, Any], pod: dict[str, Any], lo: int, hi: int) -> list[str]:
    """The Services of the day that select the pod, by Kubernetes' selector rule."""
    return [
        lb["service_name"]
        for lb in cluster["load_balancers"]
        if lb["namespace"] == pod["namespace"]
        and overlap_s(lb, lo, hi)
        and lb["selector"]
        and all(pod["labels"].get(key) == value for key, value in lb["selector"].items())
    ]


def _amount(container: dict[str, Any], request: str, usage: str) -> float:
    """What a container is charged for: OpenCost's allocation is max(request, usage); a
    container whose allocation series is missing is known by its request alone."""
    if container.get("allocation", True):
        return max(container[request], container[usage])
    return container[request]


def _pod_compute(cluster: dict[str, Any], pod: dict[str, Any], lo: int, hi: int) -> dict:
    """cpu, ram and gpu cost of a pod's containers over its run inside [lo, hi)."""
    node = next(n for n in cluster["nodes"] if n["name"] == pod["node"])
    start, end = max(pod["start"], lo), min(pod["end"], hi)
    amounts = {
        "cpu": sum(_amount(c, "cpu_request", "cpu_usage") for c in pod["containers"]),
        "ram": sum(_amount(c, "ram_request_bytes", "ram_usage_bytes") for c in pod["containers"])
        / GIB,
        "gpu": sum(c["gpu"] for c in pod["containers"]),
    }
    return {
        resource: amount * integrate(node_prices(cluster, node, resource), start, end)
        if start < end
        else 0.0
        for resource, amount in amounts.items()
    }


def _shared(
    price_per_hour: float, members: list[dict[str, Any]], lo: int, hi: int
) -> tuple[dict[str, float], float]:
    """Split `price_per_hour` over [lo, hi) between the members running at each instant:
    (dollars per member uid, dollars while none ran)."""
    cuts = sorted({lo, hi} | {t for m in members for t in (m["start"], m["end"]) if lo < t < hi})
    shares: dict[str, float] = {}
    alone = 0.0
    for t0, t1 in itertools.pairwise(cuts):
        running = [m["uid"] for m in members if m["start"] <= t0 and m["end"] >= t1]
        dollars = price_per_hour * (t1 - t0) / 3600
        if not running:
            alone += dollars
        for uid in running:
            shares[uid] = shares.get(uid, 0.0) + dollars / len(running)
    return shares, alone


def _counter_value(scenario: dict, cluster: dict, pod: dict, rate: float, t: int) -> float:
    resets = [
        r["at"]
        for r in cluster["network_resets"]
        if r["node"] == pod["node"] and pod["start"] < r["at"] < min(t, pod["end"])
    ]
    return rate * (t - max([pod["start"], *resets]))


def _egress_by_pod(
    scenario: dict[str, Any], cluster: dict[str, Any], lo: int, hi: int
) -> dict[str, dict[str, float]]:
    """Bytes per egress class per pod uid, as Prometheus' increase reports the day."""
    step = scenario["scrape_interval_s"]
    gaps = cluster["gaps"]
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for pod in cluster["pods"]:
        for klass, rate in pod["egress_bytes_per_s"].items():
            if rate:
                series.setdefault((pod["namespace"], pod["name"], klass), []).append(pod)
    found: dict[str, dict[str, float]] = {}
    for (_, _, klass), pods in series.items():
        growth, ticks, first_value = {}, [], None
        for pod in sorted(pods, key=lambda p: p["start"]):
            rate = pod["egress_bytes_per_s"][klass]
            first = max(pod["start"], lo, scenario["start"])
            first += -first % step
            own = [
                t
                for t in range(first, min(pod["end"], hi + 1, scenario["end"]), step)
                if not any(g0 <= t < g1 for g0, g1 in gaps)
            ]
            if own and pod["start"] < hi:
                growth[pod["uid"]] = rate * (own[-1] - own[0])
                if first_value is None:
                    first_value = _counter_value(scenario, cluster, pod, rate, own[0])
                ticks += own
        total = sum(growth.values())
        if len(ticks) < 2 or total <= 0:
            continue
        sampled = ticks[-1] - ticks[0]
        average = sampled / (len(ticks) - 1)
        to_start = min(ticks[0] - (lo - 0.001), sampled * first_value / total)
        to_end = hi - ticks[-1]
        reach = sampled
        for edge in (to_start, to_end):
            reach += edge if edge < 1.1 * average else average / 2
        for uid, grown in growth.items():
            found.setdefault(uid, dict.fromkeys(NETWORK_CLASSES, 0.0))[klass] += (
                total * reach / sampled * grown / total
            )
    return found


NETWORK_CLASSES = ("zone", "region", "internet")


def expected_allocation(
    scenario: dict[str, Any], tenant_id: str, day: date
) -> list[dict[str, Any]]:
    """Rows (namespace, controller, pod uid, node, every cost) of one cluster-day."""
    cluster = cluster_of(scenario, tenant_id)
    lo, hi = day_bounds(day)
    rows: dict[str, dict[str, Any]] = {}
    for pod in cluster["pods"]:
        if overlap_s(pod, lo, hi):
            workload = pod["workload"]
            row = _row(
                pod["namespace"],
                f"{workload['kind']}/{workload['name']}",
                pod["uid"],
                pod["node"],
                _services(cluster, pod, lo, hi),
            )
            for resource, cost in _pod_compute(cluster, pod, lo, hi).items():
                row[f"{resource}_cost"] = cost
            rows[pod["uid"]] = row
    for node in cluster["nodes"]:
        if overlap_s(node, lo, hi):
            idle = rows[f"idle:{node['name']}"] = _row(IDLE, IDLE, IDLE, node["name"])
            on_node = [r for r in rows.values() if r["node"] == node["name"] and r is not idle]
            for resource, cost in node_asset(cluster, node, lo, hi).items():
                key = f"{resource}_cost"
                idle[key] = cost - sum(r[key] for r in on_node)
    pods = {pod["uid"]: pod for pod in cluster["pods"]}
    for pv in cluster["pvs"]:
        start, end = max(pv["start"], lo), min(pv["end"], hi)
        if start >= end:
            continue
        mounts = [
            pods[uid]
            | {
                "start": max(pods[uid]["start"], pv["start"]),
                "end": min(pods[uid]["end"], pv["end"]),
            }
            for uid in pv["mounted_by"]
        ]
        claim = pv["pvc"] or {"request_bytes": 0}  # a released PV has no claim
        claimed = claim["request_bytes"] / GIB * pv["price_per_gib_hour"]
        shares, _ = _shared(claimed, mounts, start, end)
        unmounted = rows.setdefault(f"pv:{pv['name']}", _row(UNMOUNTED, UNMOUNTED, UNMOUNTED, ""))
        unmounted["pv_cost"] = (
            pv["capacity_bytes"] / GIB * pv["price_per_gib_hour"] * (end - start) / 3600
        )
        for uid, dollars in shares.items():
            rows[uid]["pv_cost"] += dollars
            unmounted["pv_cost"] -= dollars
    for lb in cluster["load_balancers"]:
        start, end = max(lb["start"], lo), min(lb["end"], hi)
        if start < end:
            shares, alone = _shared(
                lb["rate_per_hour"], [pods[uid] for uid in lb["pods"]], start, end
            )
            for uid, dollars in shares.items():
                rows[uid]["load_balancer_cost"] += dollars
            key = f"lb:{lb['namespace']}/{lb['service_name']}"
            unmounted = _row(UNMOUNTED, UNMOUNTED, UNMOUNTED, "", [lb["service_name"]])
            rows.setdefault(key, unmounted)["load_balancer_cost"] += alone
    for uid, by_class in _egress_by_pod(scenario, cluster, lo, hi).items():
        rows[uid]["network_cost"] += sum(
            octets / GIB * cluster["network_prices"][klass] for klass, octets in by_class.items()
        )
    fee = cluster["management_fee_per_hour"] * overlap_s(cluster, lo, hi) / 3600
    weights = {key: max(0.0, sum(row[f"{r}_cost"] for r in RESOURCES)) for key, row in rows.items()}
    for key, row in rows.items():
        row["management_cost"] = fee * weights[key] / sum(weights.values())
    return list(rows.values())


def allocation_by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    """Every cost component summed per value of `key` (namespace, controller, pod, node)."""
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        group = totals.setdefault(row[key], dict.fromkeys(COST_KEYS, 0.0))
        for component in COST_KEYS:
            group[component] += row[component]
    return totals
