"""cAdvisor's usage families (docs/exporters.md [18]-[21]) as a simulated cluster has them:
the kubelet's `total` cpu counter, or one series per core (the `per_cpu_usage` pitfall).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from devtools.simulate import usage
from devtools.simulate.series import Series, SeriesOf


def _cadvisor(kind: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    """cAdvisor's series of every container with usage series (devtools/simulate/usage.py)."""

    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        profile = cluster.get("usage_profile", usage.USAGE_PROFILE)
        for pod in cluster["pods"]:
            for container in pod["containers"]:
                if not container.get("usage_series", True):
                    continue
                labels = usage.cadvisor_labels(pod, container)
                if kind == "cpu":
                    rates = tuple(usage.levels(container["cpu_usage"], profile, *_life(pod)))
                    yield from _per_cpu(cluster, labels, pod, rates)
                else:
                    labels.pop("cpu")
                    average = container["ram_usage_bytes"]
                    pieces = tuple(usage.levels(average, profile, *_life(pod)))
                    yield Series(labels, pod["start"], pod["end"], pieces)

    return series


def _per_cpu(
    cluster: dict[str, Any], labels: dict[str, str], pod: dict[str, Any], rates: tuple
) -> Iterator[Series]:
    """The cpu counter as `total` (the kubelet), or one series per core with its share
    of the rates when the cluster has `cpu_shares` (pitfalls.py per_cpu_usage)."""
    shares = cluster.get("cpu_shares")
    if not shares:
        yield Series(labels, pod["start"], pod["end"], rates=rates)
        return
    for core, share in enumerate(shares):
        scaled = tuple((at, rate * share) for at, rate in rates)
        yield Series({**labels, "cpu": f"cpu{core:02d}"}, pod["start"], pod["end"], rates=scaled)


def _life(pod: dict[str, Any]) -> tuple[int, int]:
    return pod["start"], pod["end"]


# (family name, OpenMetrics type, the series one cluster has in that family)
CADVISOR_FAMILIES: list[tuple[str, str, SeriesOf]] = [
    ("container_cpu_usage_seconds", "counter", _cadvisor("cpu")),
    ("container_memory_working_set_bytes", "gauge", _cadvisor("memory")),
]
