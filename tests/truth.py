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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

DAY_S = 86400
GIB = 2**30
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


def cluster_of(scenario: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The scenario's cluster whose tenant is `tenant_id`."""
    for cluster in scenario["clusters"]:
        if cluster["tenant_id"] == tenant_id:
            return cluster
    raise KeyError(f"no cluster with tenant {tenant_id} in the scenario")


def expected_day_costs(scenario: dict[str, Any], tenant_id: str, day: date) -> dict[str, float]:
    """The asset-view cost breakdown (USD) of one cluster over one UTC day of the history."""
    if day.isoformat() not in scenario["days"]:
        raise ValueError(f"{day} is outside the scenario's history {scenario['days']}")
    cluster = cluster_of(scenario, tenant_id)
    day_lo, day_hi = day_bounds(day)
    costs = dict.fromkeys(COST_KEYS, 0.0)
    for node in cluster["nodes"]:
        lo, hi = max(node["start"], day_lo), min(node["end"], day_hi)
        prices = node["prices"]
        costs["cpu_cost"] += node["cpu_cores"] * integrate(prices["cpu"], lo, hi)
        costs["ram_cost"] += node["ram_bytes"] / GIB * integrate(prices["ram"], lo, hi)
        costs["gpu_cost"] += node["gpu_count"] * integrate(prices["gpu"], lo, hi)
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
