"""What simulated containers use: a daily usage profile, and its cAdvisor series.

Each container's `cpu_usage` (cores) and `ram_usage_bytes` are its day-average use
(OpenCost's allocation already takes max(request, usage) of them). Around that
average, every container follows one daily profile, stored in the scenario
(`usage_profile`) so that tests/truth.py knows it: a base level, a burst of
`burst_factor` x base over [burst) seconds of each UTC day, and inside it a spike of
`spike_factor` x base over [spike). Boundaries are whole hours and half hours, so on
any scrape interval dividing 30 minutes a gauge's samples average exactly to the
time average. A container with `usage_series: false` has no cAdvisor series (a
kubelet whose /metrics/cadvisor is not scraped, a relabelled-away family).

Rendered as the kubelet's /metrics/cadvisor sends them: `container_cpu_usage_seconds_total`
(a counter of core-seconds) and `container_memory_working_set_bytes` (a gauge), with
cAdvisor's `id`, `name`, `image` (and `cpu` on the counter) and the kubelet's
`namespace`, `pod`, `container`; no `node`, no pod uid (docs/exporters.md). The cpu
counter is `cpu="total"`, or one series per core with the `per_cpu_usage` pitfall.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

DAY_S = 86400
USAGE_PROFILE = {
    "burst": [12 * 3600, 14 * 3600],
    "spike": [12 * 3600 + 1800, 13 * 3600],
    "burst_factor": 1.5,
    "spike_factor": 2.5,
}


def base_factor(profile: dict[str, Any]) -> float:
    """The base level as a fraction of the day-average (the profile averages to 1)."""
    burst = profile["burst"][1] - profile["burst"][0]
    spike = profile["spike"][1] - profile["spike"][0]
    weighted = (
        (DAY_S - burst)
        + (burst - spike) * profile["burst_factor"]
        + spike * profile["spike_factor"]
    )
    return DAY_S / weighted


def levels(average: float, profile: dict[str, Any], start: int, end: int) -> Iterator[tuple]:
    """(from, value) pieces of the profile of day-average `average` over [start, end)."""
    base = average * base_factor(profile)
    first_day = start - start % DAY_S
    yield start, base
    for day in range(first_day, end, DAY_S):
        for at, factor in (
            (profile["burst"][0], profile["burst_factor"]),
            (profile["spike"][0], profile["spike_factor"]),
            (profile["spike"][1], profile["burst_factor"]),
            (profile["burst"][1], 1.0),
        ):
            if start < day + at < end:
                yield day + at, base * factor


def cadvisor_labels(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The labels of a container's cAdvisor series (the cgroup path holds the pod uid)."""
    runtime_id = hashlib.sha1(f"{pod['uid']}/{container['name']}".encode()).hexdigest()[:12]
    return {
        "namespace": pod["namespace"],
        "pod": pod["name"],
        "container": container["name"],
        "id": f"/kubepods/burstable/pod{pod['uid']}/{runtime_id}",
        "name": runtime_id,
        "image": f"registry.example/{container['name']}:1",
        "cpu": "total",
    }
