"""Build a simulated scenario: the ground truth the OpenMetrics writer and the tests share.

A scenario is plain JSON data (ints, floats, strings, lists, dicts) so it can be saved
beside the metrics and read back by tests that must not import the pipeline. Every
choice comes from a `random.Random` seeded per cluster, so one seed gives one scenario.
Each cluster carries the awkward cases the pipeline has to get right: a node replaced
mid-history, a spot node whose price changes mid-day, a GPU node, pods that start and
stop mid-day, a completed Job, a PV mounted by several pods, an unmounted PV, and a load
balancer created mid-history. The field's other pitfalls (duplicate emitters, an HA pair,
scrape gaps, ...) are opt-in, one flag each (`pitfalls`, see pitfalls.py), so a test can
produce exactly the one it is about.

Shape (times are Unix seconds, every entity lives over [start, end)):
    {format, seed, scrape_interval_s, days: [YYYY-MM-DD...], start, end (the history window),
     pitfalls: [names], exporter: the shape rendered (exporters.py),
     clusters: [{tenant_id, name, organization_id, info: {id, name,
       provider, provisioner, region}, start, end, management_fee_per_hour,
       network_prices: {zone, region, internet}, cost_model: {cpu_hourly_cost,
       memory_hourly_cost, gpu_hourly_cost} (the account's prices for unpriced nodes),
       emitters: [job names of duplicate kube_* emitters], replicas: [prometheus_replica
       values of an HA pair], gaps: [[from, to] with no samples], network_resets:
       [{node, at}],
       namespaces: [{name, labels, start, end}],
       nodes: [{name, uid, provider_id, instance_type, region, zone, arch, cpu_cores,
         ram_bytes, gpu_count, spot, priced, prices: {cpu|ram|gpu: [[from, $/unit-hour],
         ...]}, start, end}],
       replicasets: [{namespace, name, owner_kind, owner_name, start, end}],
       pods: [{namespace, name, uid, node, owner: {kind, name}, workload: {kind, name},
         labels, containers: [{name, cpu_request, cpu_usage, ram_request_bytes,
         ram_usage_bytes, gpu}], start, end (it runs over [start, end)), deleted (its
         kube-state-metrics series last until then), egress_bytes_per_s: {zone, region,
         internet}}],
       pvs: [{name, uid, provider_id, storage_class, capacity_bytes, price_per_gib_hour,
         start, end, pvc: {namespace, name, request_bytes}, mounted_by: [pod uids]}],
       load_balancers: [{namespace, service_name, ingress_ip, rate_per_hour, start, end,
         selector, pods: [uids of the pods it selects]}]}]}
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from devtools.simulate.cast import NETWORK_PRICES, default_cast
from devtools.simulate.exporters import DEFAULT_EXPORTER, shape_named
from devtools.simulate.pitfalls import PITFALLS, apply_pitfalls
from etl.core.days import day_start_epoch

DAY_S = 86400
GIB = 2**30
# Fixed namespace so tenant ids and uids are the same on every run and machine.
SIM_NAMESPACE = uuid.UUID("8d4a6f1e-2b7c-4e59-a3d0-9c1f5e7b2a64")
# Pods that stop inside the history get at most this egress rate: Prometheus' increase()
# misses the last scrape interval of a stopped series, so their bytes must be negligible.
STOPPING_POD_MAX_EGRESS = 4
POD_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# instance type, vCPUs, RAM GiB, GPUs, arch, by role, per provider.
PROVIDERS: dict[str, dict[str, Any]] = {
    "AWS": {
        "provisioner": "EKS",
        "region": "us-east-1",
        "zones": ["us-east-1a", "us-east-1b"],
        "prices": {"cpu": 0.031611, "ram": 0.004237, "gpu": 0.526},
        "pv_price": 0.08 / 730,
        "types": {
            "arm": ("m6g.xlarge", 4, 16, 0, "arm64"),
            "spot": ("m5.2xlarge", 8, 32, 0, "amd64"),
            "general": ("m5.xlarge", 4, 16, 0, "amd64"),
            "gpu": ("g4dn.xlarge", 4, 16, 1, "amd64"),
        },
    },
    "GCP": {
        "provisioner": "GKE",
        "region": "europe-west1",
        "zones": ["europe-west1-b", "europe-west1-c"],
        "prices": {"cpu": 0.033174, "ram": 0.004446, "gpu": 0.35},
        "pv_price": 0.04 / 730,
        "types": {
            "arm": ("t2a-standard-4", 4, 16, 0, "arm64"),
            "spot": ("e2-standard-8", 8, 32, 0, "amd64"),
            "general": ("e2-standard-4", 4, 16, 0, "amd64"),
            "gpu": ("n1-standard-4", 4, 15, 1, "amd64"),
        },
    },
}


def entity_uid(tenant_id: str, kind: str, name: str) -> str:
    """The Kubernetes uid of a cluster's object: stable, so renders and reruns agree."""
    return str(uuid.uuid5(SIM_NAMESPACE, f"{tenant_id}/{kind}/{name}"))


def tenant_id_for(seed: int, index: int) -> str:
    """The tenant (cloud account) id of cluster `index` (1-based) for `seed`."""
    return str(uuid.uuid5(SIM_NAMESPACE, f"tenant:{seed}:{index}"))


def build_scenario(
    clusters: int,
    days: int,
    end_day: date,
    seed: int = 1,
    scrape_interval_s: int = 60,
    nodes: int = 4,
    pods: int = 24,
    pitfalls: Iterable[str] = (),
    exporter: str = DEFAULT_EXPORTER,
) -> dict[str, Any]:
    """A deterministic scenario of `clusters` clusters over the UTC days ending `end_day`.

    `nodes` counts node slots (one slot is replaced mid-history, so there is one node
    more); `pods` counts every pod that lives at some point, and must leave room for the
    fixed cast of `nodes + 12` pods (DaemonSet, StatefulSet, Deployments, Job, GPU pod).
    `pitfalls` (names from `PITFALLS`) are applied to every cluster, on its last day.
    `exporter` (a shape of exporters.py) is recorded: it decides the rendering only.
    """
    shape_named(exporter)
    chosen = [name for name in PITFALLS if name in set(pitfalls)]
    unknown = set(pitfalls) - set(PITFALLS)
    if unknown:
        raise ValueError(f"unknown pitfalls {sorted(unknown)}: choose from {list(PITFALLS)}")
    if clusters < 1 or days < 1:
        raise ValueError("clusters and days must be at least 1")
    if scrape_interval_s <= 0 or DAY_S % scrape_interval_s:
        raise ValueError(f"scrape interval {scrape_interval_s}s must divide a day")
    if nodes < 4:
        raise ValueError("nodes must be at least 4 (arm, spot, replaced, gpu)")
    if pods < nodes + 12:
        raise ValueError(f"pods must be at least nodes + 12 = {nodes + 12}")
    first_day = end_day - timedelta(days=days - 1)
    clock = _Clock(day_start_epoch(first_day), day_start_epoch(end_day) + DAY_S, scrape_interval_s)
    return {
        "format": "k8scost-sim/1",
        "seed": seed,
        "scrape_interval_s": scrape_interval_s,
        "days": [(first_day + timedelta(days=n)).isoformat() for n in range(days)],
        "start": clock.w0,
        "end": clock.w1,
        "pitfalls": chosen,
        "exporter": exporter,
        "clusters": [
            _ClusterBuilder(seed, index, clock).build(nodes, pods, chosen)
            for index in range(1, clusters + 1)
        ],
    }


class _Clock:
    """Instants of the history window [w0, w1), all aligned to the scrape interval."""

    def __init__(self, w0: int, w1: int, step: int) -> None:
        self.w0, self.w1, self.step = w0, w1, step
        self.before = w0 - 3 * DAY_S  # long-lived entities were created before the history
        self.after = w1 + DAY_S  # and outlive it
        self.last_day = w1 - DAY_S  # where the pitfalls happen

    def align(self, seconds: float) -> int:
        """`seconds` rounded to a whole number of scrape intervals (at least one)."""
        return max(1, round(seconds / self.step)) * self.step

    def at(self, fraction: float) -> int:
        """The aligned instant `fraction` of the way through the history."""
        return self.w0 + self.align(fraction * (self.w1 - self.w0))


class _ClusterBuilder:
    """Builds one cluster's entities; methods append to the lists `build` returns."""

    def __init__(self, seed: int, index: int, clock: _Clock) -> None:
        self.rng = random.Random(f"k8scost-sim:{seed}:{index}")
        self.clock = clock
        self.tenant_id = tenant_id_for(seed, index)
        self.name = f"sim-cluster-{index}"
        self.provider = "AWS" if index % 2 else "GCP"
        self.profile = PROVIDERS[self.provider]
        self.nodes: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.replicasets: list[dict[str, Any]] = []

    def build(self, node_slots: int, pod_count: int, pitfalls: list[str]) -> dict[str, Any]:
        cluster = default_cast(self, node_slots, pod_count)
        apply_pitfalls(self, cluster, pitfalls)
        return cluster

    def uid(self, kind: str, name: str) -> str:
        return entity_uid(self.tenant_id, kind, name)

    def token(self, length: int) -> str:
        return "".join(self.rng.choice(POD_SUFFIX_ALPHABET) for _ in range(length))

    def price(self, resource: str) -> float:
        """The cluster's list price for `resource`, varied by a few percent per cluster."""
        return round(self.profile["prices"][resource] * self.rng.uniform(0.95, 1.05), 6)

    def node(self, role: str, start: int, end: int, price_change: int | None = None) -> dict:
        instance_type, cores, ram_gib, gpus, arch = self.profile["types"][role]
        zone = self.profile["zones"][len(self.nodes) % 2]
        taken = {node["name"] for node in self.nodes}
        name = ""
        while not name or name in taken:  # node names are unique in a cluster
            if self.provider == "AWS":
                octets = self.rng.randrange(1, 255), self.rng.randrange(1, 255)
                name = f"ip-10-0-{octets[0]}-{octets[1]}.ec2.internal"
                provider_id = f"aws:///{zone}/i-0{self.rng.getrandbits(64):016x}"
            else:
                pool = f"gke-{self.name}-default-pool"
                name = f"{pool}-{self.rng.getrandbits(32):08x}-{self.token(4)}"
                provider_id = f"gce://sim-project/{zone}/{name}"
        discount = 0.35 if role == "spot" else 1.0
        prices = {
            resource: [[start, round(self.price(resource) * discount, 6) if used else 0.0]]
            for resource, used in [("cpu", True), ("ram", True), ("gpu", gpus > 0)]
        }
        if price_change is not None:  # a spot market move: the price rises mid-day
            for resource in ("cpu", "ram"):
                prices[resource].append([price_change, round(prices[resource][0][1] * 1.4, 6)])
        node = {
            "name": name,
            "uid": self.uid("node", name),
            "provider_id": provider_id,
            "instance_type": instance_type,
            "region": self.profile["region"],
            "zone": zone,
            "arch": arch,
            "cpu_cores": cores,
            "ram_bytes": ram_gib * GIB,
            "gpu_count": gpus,
            "spot": role == "spot",
            "priced": True,
            "prices": prices,
            "start": start,
            "end": end,
        }
        self.nodes.append(node)
        return node

    def replicaset(self, namespace: str, deployment: str) -> dict[str, Any]:
        replicaset = {
            "namespace": namespace,
            "name": f"{deployment}-{self.token(9)}",
            "owner_kind": "Deployment",
            "owner_name": deployment,
            "start": self.clock.before,
            "end": self.clock.after,
        }
        self.replicasets.append(replicaset)
        return replicaset

    def pod(
        self,
        namespace: str,
        kind: str,
        workload: str,
        node: dict[str, Any],
        start: int,
        end: int,
        containers: list[dict[str, Any]],
        labels: dict[str, str],
        replicaset: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a pod; its name, owner and egress follow from its controller and lifetime."""
        taken = {p["name"] for p in self.pods if p["namespace"] == namespace}
        if kind == "StatefulSet":
            siblings = sum(p["workload"]["name"] == workload for p in self.pods)
            name, owner = f"{workload}-{siblings}", (kind, workload)
        else:
            prefix = replicaset["name"] if replicaset is not None else workload
            owner = ("ReplicaSet", prefix) if replicaset is not None else (kind, workload)
            name = f"{prefix}-{self.token(5)}"
            while name in taken:  # two live pods never share a name
                name = f"{prefix}-{self.token(5)}"
        pod = {
            "namespace": namespace,
            "name": name,
            "uid": self.uid("pod", f"{namespace}/{name}"),
            "node": node["name"],
            "owner": {"kind": owner[0], "name": owner[1]},
            "workload": {"kind": kind, "name": workload},
            "labels": labels,
            "containers": containers,
            "start": start,
            "end": end,
            "deleted": end,
            "egress_bytes_per_s": self.egress(kind, end),
        }
        self.pods.append(pod)
        return pod

    def egress(self, kind: str, end: int) -> dict[str, int]:
        """Egress bytes/s per class: none for DaemonSets, a trickle for pods that stop."""
        if kind == "DaemonSet":
            return {"zone": 0, "region": 0, "internet": 0}
        if end < self.clock.w1:
            return {c: self.rng.randrange(1, STOPPING_POD_MAX_EGRESS + 1) for c in NETWORK_PRICES}
        return {
            "zone": self.rng.randrange(2_000, 20_000),
            "region": self.rng.randrange(500, 5_000),
            "internet": self.rng.randrange(1_000, 50_000),
        }

    def pv(
        self,
        namespace: str,
        claim: str,
        gib: int,
        start: int,
        end: int,
        mounted_by: list[dict[str, Any]],
    ) -> dict[str, Any]:
        claim_uid = self.uid("pvc", f"{namespace}/{claim}")
        name = f"pvc-{claim_uid}"
        if self.provider == "AWS":
            provider_id = f"vol-0{self.rng.getrandbits(64):016x}"
        else:
            provider_id = f"projects/sim-project/zones/{self.profile['zones'][0]}/disks/{name}"
        return {
            "name": name,
            "uid": self.uid("pv", name),
            "provider_id": provider_id,
            "storage_class": "gp3" if self.provider == "AWS" else "standard-rwo",
            "capacity_bytes": gib * GIB,
            "price_per_gib_hour": round(self.profile["pv_price"], 9),
            "start": start,
            "end": end,
            "pvc": {"namespace": namespace, "name": claim, "request_bytes": gib * GIB},
            "mounted_by": [pod["uid"] for pod in mounted_by],
        }

    def load_balancer(
        self, namespace: str, service: str, rate: float, start: int, selected: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "namespace": namespace,
            "service_name": service,
            "ingress_ip": f"203.0.113.{self.rng.randrange(1, 255)}",
            "rate_per_hour": rate,
            "start": start,
            "end": self.clock.after,
            "selector": {"app": selected[0]["labels"]["app"]},
            "pods": [pod["uid"] for pod in selected],
        }
