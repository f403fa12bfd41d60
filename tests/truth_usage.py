"""Expected requests and usage, from a simulator scenario alone (no pipeline code).

The simulator's usage profile (the scenario's `usage_profile`, restated here): each
container uses its day-average (`cpu_usage` cores, `ram_usage_bytes`) times a daily
shape: `base` outside the burst, `burst_factor x base` in [burst), `spike_factor x
base` in [spike) (inside the burst), base chosen so the day averages to 1. cpu is a
counter of core-seconds (the integral of that rate from the pod's start), memory a
gauge. What Prometheus reports is restated from its documented rules:
- used core-hours = `increase` over the day's window [D - 1 ms, D + 1] of the counter's
  samples (its growth between the first and last sample, extrapolated to the window's
  edges: fully when the gap is under 1.1 average intervals, else by half an interval;
  at the start never past the counter's zero), / 3600;
- used byte-hours = the average of the day's working-set samples x the running hours;
- the 95th percentile and maximum of cpu rates and working sets over the day are the
  burst and spike levels for a container alive through the burst (the spike is short
  of 5% of the day and the burst's pure samples cover the 95th percentile's rank).
Requested core-hours = cpu request x running hours, byte-hours = memory request x hours.
Scenarios with pitfalls (gaps, resets, replicas) are not modelled here.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from tests.truth import cluster_of, day_bounds, overlap_s

DAY_S = 86400


def _levels(profile: dict[str, Any]) -> list[tuple[int, float]]:
    """(second of the day, factor of the average) pieces of one day."""
    burst, spike = profile["burst"], profile["spike"]
    b, s = profile["burst_factor"], profile["spike_factor"]
    area = (DAY_S - (burst[1] - burst[0])) + b * (burst[1] - burst[0] - (spike[1] - spike[0]))
    base = DAY_S / (area + s * (spike[1] - spike[0]))
    return [
        (0, base),
        (burst[0], b * base),
        (spike[0], s * base),
        (spike[1], b * base),
        (burst[1], base),
    ]


def _factor(profile: dict[str, Any], t: int) -> float:
    return [f for at, f in _levels(profile) if at <= t % DAY_S][-1]


def _integral(profile: dict[str, Any], average: float, lo: int, hi: int) -> float:
    """∫ average x factor(t) dt over [lo, hi)."""
    cuts = sorted(
        {lo, hi} | {d + at for d in range(lo - lo % DAY_S, hi, DAY_S) for at, _ in _levels(profile)}
    )
    return sum(
        average * _factor(profile, a) * (b - a)
        for a, b in itertools.pairwise(cuts)
        if lo <= a and b <= hi
    )


def _increase(ticks: list[int], values: list[float], lo: float, hi: float) -> float:
    """Prometheus' `increase` of counter samples over the range [lo, hi]."""
    if len(ticks) < 2:
        return 0.0
    raw = values[-1] - values[0]
    sampled = ticks[-1] - ticks[0]
    average = sampled / (len(ticks) - 1)
    to_start, to_end = ticks[0] - lo, hi - ticks[-1]
    if raw > 0 and values[0] >= 0:
        to_start = min(to_start, sampled * values[0] / raw)
    reach = sampled
    for edge in (to_start, to_end):
        reach += edge if edge < 1.1 * average else average / 2
    return raw * reach / sampled


def _ticks(scenario: dict, pod: dict, lo: int, hi: int) -> list[int]:
    """The container's sample instants inside [lo, hi): scrape ticks of its life."""
    step = scenario["scrape_interval_s"]
    first = max(pod["start"], lo, scenario["start"])
    first += -first % step
    return list(range(first, min(pod["end"], hi, scenario["end"]), step))


def expected_usage(scenario: dict[str, Any], tenant_id: str, day: date) -> dict[str, dict]:
    """Per pod uid that ran in the day: requested and used core- and byte-hours, and per
    container its p95 and max of cpu and memory (None without usage series)."""
    cluster = cluster_of(scenario, tenant_id)
    profile = cluster["usage_profile"]
    lo, hi = day_bounds(day)
    found = {}
    for pod in cluster["pods"]:
        hours = overlap_s(pod, lo, hi) / 3600
        if not hours:
            continue
        ticks = _ticks(scenario, pod, lo, hi + 1)  # the counter's window ends at D+1 00:00
        gauge_ticks = [t for t in ticks if t < hi]
        row = {
            "cpu_request_core_hours": 0.0,
            "ram_request_byte_hours": 0.0,
            "cpu_used_core_hours": 0.0,
            "ram_used_byte_hours": 0.0,
            "containers": {},
        }
        for c in pod["containers"]:
            row["cpu_request_core_hours"] += c["cpu_request"] * hours
            row["ram_request_byte_hours"] += c["ram_request_bytes"] * hours
            if not c.get("usage_series", True):
                row["cpu_used_core_hours"] = row["ram_used_byte_hours"] = None
                row["containers"][c["name"]] = None
                continue
            values = [_integral(profile, c["cpu_usage"], pod["start"], t) for t in ticks]
            seconds = _increase(ticks, values, lo - 0.001, hi)
            memory = [c["ram_usage_bytes"] * _factor(profile, t) for t in gauge_ticks]
            if row["cpu_used_core_hours"] is not None:
                row["cpu_used_core_hours"] += seconds / 3600
                row["ram_used_byte_hours"] += sum(memory) / len(memory) * hours
            levels = {f for _, f in _levels(profile)}
            burst, spike = sorted(levels)[1], max(levels)
            row["containers"][c["name"]] = {
                "cpu_p95": c["cpu_usage"] * burst,
                "cpu_max": c["cpu_usage"] * spike,
                "ram_p95": c["ram_usage_bytes"] * burst,
                "ram_max": c["ram_usage_bytes"] * spike,
                "cpu_request": c["cpu_request"],
                "ram_request": c["ram_request_bytes"],
                "through_burst": pod["start"] <= lo + profile["burst"][0]
                and pod["end"] >= lo + profile["burst"][1],
            }
        found[pod["uid"]] = row
    return found


GIB = 2**30
MIB = 2**20


def expected_recommendations(
    scenario: dict[str, Any], tenant_id: str, day: date, target: float = 0.7
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (namespace, controller, container) of the day whose every pod ran through the
    burst with usage series: requests, cpu p95 and memory max (the spike), the
    recommended requests (usage / target, floored at 10 m and 32 MiB), the average
    replicas and the monthly savings at the prices its pods paid (a pod's cpu and ram
    cost from tests/truth.py over its max(request, usage) amount-hours)."""
    from tests.truth import expected_allocation  # the allocation truth, for prices

    cluster = cluster_of(scenario, tenant_id)
    usage = expected_usage(scenario, tenant_id, day)
    costs = {row["pod"]: row for row in expected_allocation(scenario, tenant_id, day)}
    lo, hi = day_bounds(day)
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for pod in cluster["pods"]:
        if pod["uid"] not in usage:
            continue
        hours = overlap_s(pod, lo, hi) / 3600
        amounts = {
            "cpu": sum(max(c["cpu_request"], c["cpu_usage"]) for c in pod["containers"]),
            "ram": sum(max(c["ram_request_bytes"], c["ram_usage_bytes"]) for c in pod["containers"])
            / GIB,
        }
        controller = f"{pod['workload']['kind']}/{pod['workload']['name']}"
        for c in pod["containers"]:
            seen = usage[pod["uid"]]["containers"][c["name"]]
            group = groups.setdefault(
                (pod["namespace"], controller, c["name"]),
                {
                    "complete": True,
                    "cpu": 0.0,
                    "ram": 0.0,
                    "cpu_cost": 0.0,
                    "ram_cost": 0.0,
                    "cpu_hours": 0.0,
                    "ram_hours": 0.0,
                    "running_hours": 0.0,
                },
            )
            group["running_hours"] += hours
            if seen is None or not seen["through_burst"]:
                group["complete"] = False
                continue
            group["cpu_request"], group["ram_request"] = seen["cpu_request"], seen["ram_request"]
            group["cpu"] = max(group["cpu"], seen["cpu_p95"])
            group["ram"] = max(group["ram"], seen["ram_max"])
            for r, mine in (
                ("cpu", max(c["cpu_request"], c["cpu_usage"])),
                ("ram", max(c["ram_request_bytes"], c["ram_usage_bytes"]) / GIB),
            ):
                share = mine / amounts[r] if amounts[r] else 0.0
                group[f"{r}_cost"] += costs[pod["uid"]][f"{r}_cost"] * share
                group[f"{r}_hours"] += mine * hours
    found = {}
    for key, g in groups.items():
        if not g["complete"]:
            continue
        cpu = max(g["cpu"] / target, 0.010)
        ram = max(g["ram"] / target, 32 * MIB)
        replicas = g["running_hours"] / 24
        hourly = (g["cpu_request"] - cpu) * g["cpu_cost"] / g["cpu_hours"] + (
            g["ram_request"] - ram
        ) / GIB * g["ram_cost"] / g["ram_hours"]
        found[key] = {
            "cpu_request": g["cpu_request"],
            "ram_request": g["ram_request"],
            "cpu_usage": g["cpu"],
            "ram_usage": g["ram"],
            "cpu_recommended": cpu,
            "ram_recommended": ram,
            "replicas": replicas,
            "monthly_savings": hourly * 730 * replicas,
        }
    return found
