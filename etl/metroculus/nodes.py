"""The answers of the node families and of the small families, from their raw figures.

Transform code: it runs on the archived round answers at every load and replay
(etl/metroculus/derive.py). Settled nodes (etl/metroculus/nodesummary.py) hold one value
all day (`held.simple_held`); any other node's raw samples, fetched in round 2, and the
PVs, claims, load balancers and management fee (always few) go through `held.held`, the
per-step definitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from etl.core.answers import ANSWER, Answers
from etl.core.labels import CLAIM, LOAD_BALANCER, PV
from etl.metroculus.held import Held, held, simple_held
from etl.metroculus.nodesummary import NodeSeries
from etl.metroculus.promql import Series
from etl.metroculus.queries import gap_s

PRICES = {
    "cpu": "node_cpu_hourly_cost",
    "ram": "node_ram_hourly_cost",
    "gpu": "node_gpu_hourly_cost",
}
# (answer, v1 family, v2 resource): v1 wins for the nodes it describes.
CAPACITY = (
    ("node_cpu_cores", "kube_node_status_capacity_cpu_cores", "cpu"),
    ("node_ram_bytes", "kube_node_status_capacity_memory_bytes", "memory"),
)
V2 = "kube_node_status_capacity"


def _group(series: Iterable[Series], key: Callable[[Series], tuple]) -> dict[tuple, list[Series]]:
    groups: dict[tuple, list[Series]] = defaultdict(list)
    for one in series:
        groups[key(one)].append(one)
    return groups


class Day:
    """What `held` needs besides the series: the day and the scrape interval."""

    def __init__(self, day_start_s: int, step_s: int) -> None:
        self.lo, self.step = day_start_s, step_s

    def of(self, series: list[Series]) -> Held:
        """Held of one entity: a settled stand-in (no times) or raw samples."""
        if series and len(series[0].times) == 0:
            return simple_held(max(one.values[0] for one in series), self.lo, self.step)
        return held(series, self.lo, self.step, gap_s(self.step))


def _changes(name: str, entities: dict[tuple, Held]) -> list[list[object]]:
    rows = []
    for key, one in entities.items():
        for at, price in one.changes:
            rows.append([*key, repr(price), str(int(at)), 1.0])
    return rows


def node_answers(settled: NodeSeries, raw: list[Series], day: Day) -> Answers:
    """Every node answer from the settled stand-ins and the fetched raw series."""
    series: NodeSeries = defaultdict(list, {k: list(v) for k, v in settled.items()})
    for one in raw:
        series[(one.labels.get("__name__", ""), one.labels.get("node", ""))].append(one)

    def per_node(family: str, resource: str | None = None) -> dict[tuple, Held]:
        found = {}
        for (name, node), group in series.items():
            if name != family:
                continue
            if resource is not None:
                group = [s for s in group if s.labels.get("resource") == resource]
            if group:
                found[(node,)] = day.of(group)
        return found

    out: Answers = {}
    for answer, v1, resource in CAPACITY:
        values = {k: h.average for k, h in per_node(V2, resource).items()}
        values.update({k: h.average for k, h in per_node(v1).items()})
        out[answer] = ANSWER[answer].frame([[*k, v] for k, v in values.items() if v is not None])
    gpus = per_node("node_gpu_count")
    out["node_gpu_count"] = ANSWER["node_gpu_count"].frame(
        [[*k, h.average] for k, h in gpus.items() if h.average is not None]
    )
    for r, family in PRICES.items():
        prices = {k: h for k, h in per_node(family).items() if h.steps}
        out[f"node_{r}_price_samples"] = ANSWER[f"node_{r}_price_samples"].frame(
            [[*k, h.price_sum] for k, h in prices.items()]
        )
        out[f"node_{r}_price_changes"] = ANSWER[f"node_{r}_price_changes"].frame(
            _changes(family, prices)
        )
    steps = {k: h.steps for k, h in per_node(V2, "cpu").items() if h.steps}
    steps.update(
        {k: h.steps for k, h in per_node("kube_node_status_capacity_cpu_cores").items() if h.steps}
    )
    out["node_life_steps"] = ANSWER["node_life_steps"].frame([[*k, v] for k, v in steps.items()])
    ids = set()
    for (name, node), group in series.items():
        if name == PRICES["cpu"]:
            for one in group:
                if len(one.times) == 0 or day.of([one]).average is not None:
                    ids.add((node, one.labels.get("provider_id", ""), one.labels.get("region", "")))
    out["node_provider_ids"] = ANSWER["node_provider_ids"].frame([[*i, 1.0] for i in sorted(ids)])
    return out


def small_answers(raw: list[Series], day: Day) -> Answers:
    """PV, claim, load balancer and management answers from their raw series."""
    by_family = _group(raw, lambda s: (s.labels.get("__name__", ""),))

    def entities(family: str, labels: tuple[str, ...]) -> dict[tuple, Held]:
        groups = _group(
            by_family.get((family,), []), lambda s: tuple(s.labels.get(k, "") for k in labels)
        )
        return {key: day.of(group) for key, group in groups.items()}

    out: Answers = {}
    volumes = entities("kube_persistentvolume_capacity_bytes", PV)
    out["pv_bytes"] = ANSWER["pv_bytes"].frame(
        [[*k, h.average] for k, h in volumes.items() if h.average is not None]
    )
    out["pv_life_steps"] = ANSWER["pv_life_steps"].frame(
        [[*k, h.steps] for k, h in volumes.items() if h.steps]
    )
    prices = {k: h for k, h in entities("pv_hourly_cost", PV).items() if h.steps}
    out["pv_price_samples"] = ANSWER["pv_price_samples"].frame(
        [[*k, h.price_sum] for k, h in prices.items()]
    )
    out["pv_price_changes"] = ANSWER["pv_price_changes"].frame(_changes("pv", prices))
    disks = {
        (one.labels.get("persistentvolume", ""), one.labels.get("provider_id", ""))
        for one in by_family.get(("pv_hourly_cost",), [])
        if day.of([one]).steps
    }
    out["pv_provider_ids"] = ANSWER["pv_provider_ids"].frame([[*i, 1.0] for i in sorted(disks)])
    balancers = entities("kubecost_load_balancer_cost", LOAD_BALANCER)
    out["load_balancer_rate_samples"] = ANSWER["load_balancer_rate_samples"].frame(
        [[*k, h.price_sum] for k, h in balancers.items() if h.steps]
    )
    fees = entities("kubecost_cluster_management_cost", ("provisioner_name",))
    out["management_rate_samples"] = ANSWER["management_rate_samples"].frame(
        [[*k, h.price_sum] for k, h in fees.items() if h.steps]
    )
    claims = entities("pod_pvc_allocation", CLAIM)
    out["claim_bytes"] = ANSWER["claim_bytes"].frame(
        [[*k, h.average] for k, h in claims.items() if h.average is not None]
    )
    for prefix, lived in (("claim", claims), ("load_balancer", balancers)):
        for edge in ("first", "last"):
            name = f"{prefix}_{edge}_seen"
            out[name] = ANSWER[name].frame(
                [
                    [*k, h.first_seen if edge == "first" else h.last_seen]
                    for k, h in lived.items()
                    if h.last_seen is not None
                ]
            )
    return out
