"""The field's pitfalls, each an opt-in change to a built cluster on its last simulated day.

Why opt-in: a test about one pitfall gets a small history with exactly that pitfall,
and the default cast (which the asset-view tests rely on) stays as it was. Each one
is what a real cluster produces and what a naive cost pipeline gets wrong:

- duplicate_emitters: kube-state-metrics and OpenCost both emit every `kube_*` series
  (they differ only in `job`), so a plain sum doubles requests and capacities;
- ha_pair: an HA Prometheus pair writes every series twice (`prometheus_replica`);
- counter_reset: the network-costs pod of a node restarts at 09:00, so the egress
  counters of the pods on that node fall back to zero and grow again;
- lingering_job: the completed Job's pod stays in the API for two hours, so
  kube-state-metrics keeps its requests and reports it not running (0);
- name_reuse: the StatefulSet pod `postgres-0` is deleted at 14:00 and recreated 30 min
  later on another node under the same name and a new uid;
- price_outlier: the GPU node reports 3.8e8 $/GPU-hour;
- unpriced_node: a node (with two workers and its kube-proxy) has no price series, so
  it must be priced with the account's cost model;
- per_cpu_usage: cAdvisor serves each container's cpu counter per core (`cpu00`,
  `cpu01`, `cpu02`: a half and two quarters of its usage) and no `total`, as a
  standalone cAdvisor does on cgroup v1 nodes (docs/exporters.md [21]), so keeping
  one series of a cgroup keeps one core's usage;
- missing_allocation: as on a real Kubecost scrape (26 of 79 running containers), a
  third of the running containers have no `container_*_allocation` series, among them
  a BestEffort sidecar (no requests) listed first in half the pods: such a container
  can only be priced from its requests on its pod's node;
- unclaimed_pvs: three PVs released by their claims (no PVC, never mounted), priced
  all day: all their cost is unmounted;
- scrape_gap: ten minutes without any sample of the cluster, placed where nothing
  starts, stops or changes price (applied last, so it avoids the other pitfalls too).

The builder (scenario._ClusterBuilder) is passed in, so new nodes and pods are drawn
from the cluster's own seeded random stream, after the default cast.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

OUTLIER_PRICE = 3.8e8
GAP_S = 600

Cluster = dict[str, Any]


def _at(builder: Any, hours: float) -> int:
    """The aligned instant `hours` into the last simulated day."""
    return builder.clock.last_day + builder.clock.align(hours * 3600)


def _one(items: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(item for item in items if test(item))


def _duplicate_emitters(builder: Any, cluster: Cluster) -> None:
    cluster["emitters"] = ["opencost", "kube-state-metrics"]


def _ha_pair(builder: Any, cluster: Cluster) -> None:
    cluster["replicas"] = ["prometheus-0", "prometheus-1"]


def _counter_reset(builder: Any, cluster: Cluster) -> None:
    spot = _one(cluster["nodes"], lambda node: node["spot"])
    cluster["network_resets"].append({"node": spot["name"], "at": _at(builder, 9)})


def _lingering_job(builder: Any, cluster: Cluster) -> None:
    job = _one(cluster["pods"], lambda pod: pod["owner"]["kind"] == "Job")
    job["deleted"] = min(job["end"] + builder.clock.align(7200), builder.clock.after)


def _name_reuse(builder: Any, cluster: Cluster) -> None:
    old = _one(cluster["pods"], lambda pod: pod["workload"]["kind"] == "StatefulSet")
    new = copy.deepcopy(old)
    deleted = _at(builder, 14)
    old["end"] = old["deleted"] = deleted
    old["egress_bytes_per_s"] = builder.egress("StatefulSet", deleted)  # a trickle: it stops
    host = _one(cluster["nodes"], lambda node: node["spot"])
    new.update(
        uid=builder.uid("pod", f"{new['namespace']}/{new['name']}/recreated"),
        node=host["name"],
        start=deleted + builder.clock.align(1800),
        end=builder.clock.after,
        deleted=builder.clock.after,
    )
    cluster["pods"].append(new)
    for pv in cluster["pvs"]:
        if old["uid"] in pv["mounted_by"]:
            pv["mounted_by"].append(new["uid"])


def _price_outlier(builder: Any, cluster: Cluster) -> None:
    gpu = _one(cluster["nodes"], lambda node: node["gpu_count"] > 0)
    gpu["prices"]["gpu"] = [[gpu["start"], OUTLIER_PRICE]]


def _unpriced_node(builder: Any, cluster: Cluster) -> None:
    clock = builder.clock
    node = builder.node("general", clock.before, clock.after)
    node["priced"] = False
    proxy = _one(cluster["pods"], lambda pod: pod["workload"]["kind"] == "DaemonSet")
    worker = _one(cluster["pods"], lambda pod: pod["workload"]["name"] == "queue-worker")
    replicaset = _one(cluster["replicasets"], lambda rs: rs["owner_name"] == "queue-worker")
    builder.pod(
        "kube-system",
        "DaemonSet",
        "kube-proxy",
        node,
        clock.before,
        clock.after,
        copy.deepcopy(proxy["containers"]),
        dict(proxy["labels"]),
    )
    for start in (clock.before, _at(builder, 6)):
        builder.pod(
            "workers",
            "Deployment",
            "queue-worker",
            node,
            start,
            clock.after,
            copy.deepcopy(worker["containers"]),
            dict(worker["labels"]),
            replicaset=replicaset,
        )


# Each core's share of a container's cpu usage: binary fractions, so the per-core
# counters add up to the container's exactly.
PER_CPU_SHARES = (0.5, 0.25, 0.25)


def _per_cpu_usage(builder: Any, cluster: Cluster) -> None:
    cluster["cpu_shares"] = list(PER_CPU_SHARES)


SIDECAR = {
    "name": "log-shipper",
    "cpu_request": 0,
    "cpu_usage": 0.01,
    "ram_request_bytes": 0,
    "ram_usage_bytes": 16 * 2**20,
    "gpu": 0,
    "allocation": False,
}


def _missing_allocation(builder: Any, cluster: Cluster) -> None:
    for pod in cluster["pods"]:
        if pod["workload"]["kind"] != "DaemonSet" and builder.rng.random() < 0.5:
            pod["containers"].insert(0, dict(SIDECAR))
    containers = [c for pod in cluster["pods"] for c in pod["containers"]]
    missing = sum(not c.get("allocation", True) for c in containers)
    for container in builder.rng.sample(containers, len(containers)):
        if missing >= len(containers) // 3:
            break
        if container.get("allocation", True):
            container["allocation"] = False
            missing += 1


def _unclaimed_pvs(builder: Any, cluster: Cluster) -> None:
    clock = builder.clock
    for n in range(3):
        pv = builder.pv("data", f"released-{n}", 10 * (n + 1), clock.before, clock.after, [])
        cluster["pvs"].append({**pv, "pvc": None})


def _boundaries(cluster: Cluster) -> set[int]:
    """Every instant at which something starts, stops, changes price or resets."""
    found = {reset["at"] for reset in cluster["network_resets"]}
    for kind in ("namespaces", "nodes", "replicasets", "pods", "pvs", "load_balancers"):
        for entity in cluster[kind]:
            found.update(entity[key] for key in ("start", "end", "deleted") if key in entity)
    for node in cluster["nodes"]:
        found.update(at for pieces in node["prices"].values() for at, _ in pieces)
    return found


def _scrape_gap(builder: Any, cluster: Cluster) -> None:
    """Samples missing over [g0, g0 + 10 min), where the gap hides no boundary."""
    length = builder.clock.align(GAP_S)
    boundaries = _boundaries(cluster)
    for tenth_hours in range(20, 220):
        g0 = _at(builder, tenth_hours / 10)
        if not any(g0 <= at <= g0 + length for at in boundaries):
            cluster["gaps"].append([g0, g0 + length])
            return
    raise ValueError("no ten minutes of the last day are free of boundaries for a scrape gap")


_APPLY: dict[str, Callable[[Any, Cluster], None]] = {
    "duplicate_emitters": _duplicate_emitters,
    "ha_pair": _ha_pair,
    "counter_reset": _counter_reset,
    "lingering_job": _lingering_job,
    "name_reuse": _name_reuse,
    "price_outlier": _price_outlier,
    "unpriced_node": _unpriced_node,
    "per_cpu_usage": _per_cpu_usage,
    "missing_allocation": _missing_allocation,
    "unclaimed_pvs": _unclaimed_pvs,
    "scrape_gap": _scrape_gap,
}
PITFALLS = tuple(_APPLY)


def apply_pitfalls(builder: Any, cluster: Cluster, pitfalls: list[str]) -> None:
    """Apply `pitfalls` (in PITFALLS order: scrape_gap last) to the built `cluster`."""
    for name in PITFALLS:
        if name in pitfalls:
            _APPLY[name](builder, cluster)
