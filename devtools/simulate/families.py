"""The series of each metric family a simulated cluster has, with every label any
exporter shape may keep (openmetrics.py renders them in one shape).

Each `FAMILIES` entry is (family, OpenMetrics type, the cluster's series in it); a
`Series` is an entity's labels and values over its life.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from devtools.simulate import usage
from devtools.simulate.scenario import GIB, entity_uid

# Class -> (internet, same_zone, same_region, service) labels, per the metric contract.
EGRESS_CLASSES = {
    "zone": ("false", "false", "true", "cross-zone"),
    "region": ("false", "false", "false", "cross-region"),
    "internet": ("true", "false", "false", "internet"),
}


@dataclass(frozen=True)
class Series:
    """One series of a cluster: its labels and values over the entity's life [start, end).

    A gauge takes each `pieces` value from that instant until the next piece; a counter
    (`rate` set) is `rate * (t - origin)` bytes at tick t, where the origin is `start`,
    or the last of `resets` before t (the counter restarted from zero just after it).
    """

    labels: dict[str, str]
    start: int
    end: int
    pieces: tuple[tuple[int, float], ...] = ()
    rate: float | None = None
    resets: tuple[int, ...] = ()
    # A counter whose rate is piecewise constant, (from, rate) pieces, origin `start`
    # (cAdvisor's cpu seconds, devtools/simulate/usage.py).
    rates: tuple[tuple[int, float], ...] = ()

    def counted(self, t: int) -> float:
        """A `rates` counter's value at t: its rate integrated from `start`."""
        bounds = [at for at, _ in self.rates[1:]] + [t]
        return sum(
            rate * (min(until, t) - at)
            for (at, rate), until in zip(self.rates, bounds, strict=True)
            if at < t
        )


SeriesOf = Callable[[dict[str, Any]], Iterator[Series]]


def _label_names(prefix: str, labels: dict[str, str]) -> dict[str, str]:
    """Kubernetes labels as kube-state-metrics spells them: label_<sanitized key>."""
    return {f"{prefix}{re.sub(r'[^a-zA-Z0-9_]', '_', key)}": value for key, value in labels.items()}


def _constant(entity: dict[str, Any], labels: dict[str, str], value: float) -> Series:
    return Series(labels, entity["start"], entity["end"], ((entity["start"], value),))


def _price_at(pieces: list[list[float]], instant: int) -> float:
    return [price for at, price in pieces if at <= instant][-1]


def _node_labels(node: dict[str, Any]) -> dict[str, str]:
    return {
        "node": node["name"],
        "instance": node["name"],
        "instance_type": node["instance_type"],
        "region": node["region"],
        "provider_id": node["provider_id"],
        "arch": node["arch"],
        "uid": node["uid"],
    }


def _priced(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for node in cluster["nodes"] if node.get("priced", True)]


def _node_prices(resource: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for node in _priced(cluster):
            pieces = tuple((at, price) for at, price in node["prices"][resource])
            yield Series(_node_labels(node), node["start"], node["end"], pieces)

    return series


def _node_total(cluster: dict[str, Any]) -> Iterator[Series]:
    for node in _priced(cluster):
        prices = node["prices"]
        changes = sorted({at for pieces in prices.values() for at, _ in pieces})
        pieces = tuple(
            (
                at,
                node["cpu_cores"] * _price_at(prices["cpu"], at)
                + node["ram_bytes"] / GIB * _price_at(prices["ram"], at)
                + node["gpu_count"] * _price_at(prices["gpu"], at),
            )
            for at in changes
        )
        yield Series(_node_labels(node), node["start"], node["end"], pieces)


def _node_value(key: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for node in cluster["nodes"]:
            yield _constant(node, _node_labels(node), node[key])

    return series


def _node_state(key: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for node in cluster["nodes"]:
            yield _constant(node, {"node": node["name"], "uid": node["uid"]}, node[key])

    return series


def _node_k8s_labels(cluster: dict[str, Any]) -> Iterator[Series]:
    for node in cluster["nodes"]:
        labels = _label_names(
            "label_",
            {
                "kubernetes.io/arch": node["arch"],
                "node.kubernetes.io/instance-type": node["instance_type"],
                "topology.kubernetes.io/region": node["region"],
                "topology.kubernetes.io/zone": node["zone"],
            },
        )
        yield _constant(node, {"node": node["name"], "uid": node["uid"], **labels}, 1)


def _containers(
    value_of: Callable[[dict[str, Any]], float], only_gpu: bool = False
) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for pod in cluster["pods"]:
            for container in pod["containers"]:
                if only_gpu and not container["gpu"]:
                    continue
                labels = {
                    "namespace": pod["namespace"],
                    "pod": pod["name"],
                    "container": container["name"],
                    "node": pod["node"],
                    "instance": pod["node"],
                    "uid": pod["uid"],
                }
                yield _constant(pod, labels, value_of(container))

    return series


def _until_deleted(pod: dict[str, Any], labels: dict[str, str], value: float) -> Series:
    """A kube-state-metrics series: it lasts while the pod object exists."""
    return Series(labels, pod["start"], pod.get("deleted", pod["end"]), ((pod["start"], value),))


def _container_running(cluster: dict[str, Any]) -> Iterator[Series]:
    for pod in cluster["pods"]:
        for container in pod["containers"]:
            labels = {
                "namespace": pod["namespace"],
                "pod": pod["name"],
                "container": container["name"],
                "uid": pod["uid"],
            }
            pieces = ((pod["start"], 1), (pod["end"], 0))
            yield Series(labels, pod["start"], pod.get("deleted", pod["end"]), pieces)


def _container_requests(cluster: dict[str, Any]) -> Iterator[Series]:
    for pod in cluster["pods"]:
        for container in pod["containers"]:
            base = {
                "namespace": pod["namespace"],
                "pod": pod["name"],
                "container": container["name"],
                "node": pod["node"],
                "uid": pod["uid"],
            }
            for resource, unit, key in [
                ("cpu", "core", "cpu_request"),
                ("memory", "byte", "ram_request_bytes"),
                ("nvidia_com_gpu", "integer", "gpu"),
            ]:
                if container[key]:
                    labels = {**base, "resource": resource, "unit": unit}
                    yield _until_deleted(pod, labels, container[key])


def _pod_labels(cluster: dict[str, Any]) -> Iterator[Series]:
    for pod in cluster["pods"]:
        labels = {"namespace": pod["namespace"], "pod": pod["name"], "uid": pod["uid"]}
        yield _until_deleted(pod, {**labels, **_label_names("label_", pod["labels"])}, 1)


def _pod_owner(cluster: dict[str, Any]) -> Iterator[Series]:
    for pod in cluster["pods"]:
        labels = {
            "namespace": pod["namespace"],
            "pod": pod["name"],
            "uid": pod["uid"],
            "owner_kind": pod["owner"]["kind"],
            "owner_name": pod["owner"]["name"],
            "owner_is_controller": "true",
        }
        yield _until_deleted(pod, labels, 1)


def _namespace_labels(cluster: dict[str, Any]) -> Iterator[Series]:
    for namespace in cluster["namespaces"]:
        labels = {
            "namespace": namespace["name"],
            "uid": entity_uid(cluster["tenant_id"], "namespace", namespace["name"]),
            **_label_names("label_", namespace["labels"]),
        }
        yield _constant(namespace, labels, 1)


def _replicaset_owner(cluster: dict[str, Any]) -> Iterator[Series]:
    for rs in cluster["replicasets"]:
        labels = {
            "namespace": rs["namespace"],
            "replicaset": rs["name"],
            "owner_kind": rs["owner_kind"],
            "owner_name": rs["owner_name"],
            "owner_is_controller": "true",
        }
        yield _constant(rs, labels, 1)


def _pv_cost(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        labels = {
            "persistentvolume": pv["name"],
            "volumename": pv["name"],
            "provider_id": pv["provider_id"],
            "uid": pv["uid"],
        }
        yield _constant(pv, labels, pv["price_per_gib_hour"])


def _pv_capacity(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        yield _constant(pv, {"persistentvolume": pv["name"]}, pv["capacity_bytes"])


def _pvc_info(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        claim = pv["pvc"]
        labels = {
            "namespace": claim["namespace"],
            "persistentvolumeclaim": claim["name"],
            "storageclass": pv["storage_class"],
            "volumename": pv["name"],
            "volumemode": "Filesystem",
            "uid": entity_uid(cluster["tenant_id"], "pvc", f"{claim['namespace']}/{claim['name']}"),
        }
        yield _constant(pv, labels, 1)


def _pod_pvc_allocation(cluster: dict[str, Any]) -> Iterator[Series]:
    pods = {pod["uid"]: pod for pod in cluster["pods"]}
    for pv in cluster["pvs"]:
        claim = pv["pvc"]
        for uid in pv["mounted_by"]:
            pod = pods[uid]
            labels = {
                "namespace": claim["namespace"],
                "pod": pod["name"],
                "persistentvolumeclaim": claim["name"],
                "persistentvolume": pv["name"],
                "uid": uid,
            }
            start, end = max(pod["start"], pv["start"]), min(pod["end"], pv["end"])
            yield Series(labels, start, end, ((start, claim["request_bytes"]),))


def _service_uid(cluster: dict[str, Any], lb: dict[str, Any]) -> str:
    return entity_uid(cluster["tenant_id"], "service", f"{lb['namespace']}/{lb['service_name']}")


def _load_balancers(cluster: dict[str, Any]) -> Iterator[Series]:
    for lb in cluster["load_balancers"]:
        labels = {
            "namespace": lb["namespace"],
            "service_name": lb["service_name"],
            "ingress_ip": lb["ingress_ip"],
            "uid": _service_uid(cluster, lb),
        }
        yield _constant(lb, labels, lb["rate_per_hour"])


def _service_selectors(cluster: dict[str, Any]) -> Iterator[Series]:
    for lb in cluster["load_balancers"]:
        labels = {
            "namespace": lb["namespace"],
            "service": lb["service_name"],
            "uid": _service_uid(cluster, lb),
            **_label_names("label_", lb["selector"]),
        }
        yield _constant(lb, labels, 1)


def _management(cluster: dict[str, Any]) -> Iterator[Series]:
    labels = {"provisioner_name": cluster["info"]["provisioner"]}
    yield _constant(cluster, labels, cluster["management_fee_per_hour"])


def _network_price(egress_class: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        yield _constant(cluster, {}, cluster["network_prices"][egress_class])

    return series


def _cluster_info(cluster: dict[str, Any]) -> Iterator[Series]:
    yield _constant(cluster, dict(cluster["info"]), 1)


def _egress_bytes(cluster: dict[str, Any]) -> Iterator[Series]:
    for pod in cluster["pods"]:
        resets = tuple(
            reset["at"]
            for reset in cluster.get("network_resets", [])
            if reset["node"] == pod["node"] and pod["start"] < reset["at"] < pod["end"]
        )
        for egress_class, rate in pod["egress_bytes_per_s"].items():
            if rate:
                internet, same_zone, same_region, service = EGRESS_CLASSES[egress_class]
                labels = {
                    "namespace": pod["namespace"],
                    "pod_name": pod["name"],
                    "internet": internet,
                    "same_zone": same_zone,
                    "same_region": same_region,
                    "service": service,
                }
                yield Series(labels, pod["start"], pod["end"], rate=rate, resets=resets)


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
FAMILIES: list[tuple[str, str, SeriesOf]] = [
    ("node_cpu_hourly_cost", "gauge", _node_prices("cpu")),
    ("node_ram_hourly_cost", "gauge", _node_prices("ram")),
    ("node_gpu_hourly_cost", "gauge", _node_prices("gpu")),
    ("node_gpu_count", "gauge", _node_value("gpu_count")),
    ("node_total_hourly_cost", "gauge", _node_total),
    ("kubecost_node_is_spot", "gauge", _node_value("spot")),
    (
        "container_cpu_allocation",
        "gauge",
        _containers(lambda c: max(c["cpu_request"], c["cpu_usage"])),
    ),
    (
        "container_memory_allocation_bytes",
        "gauge",
        _containers(lambda c: max(c["ram_request_bytes"], c["ram_usage_bytes"])),
    ),
    ("container_gpu_allocation", "gauge", _containers(lambda c: c["gpu"], only_gpu=True)),
    ("pv_hourly_cost", "gauge", _pv_cost),
    ("pod_pvc_allocation", "gauge", _pod_pvc_allocation),
    ("kubecost_load_balancer_cost", "gauge", _load_balancers),
    ("kubecost_cluster_management_cost", "gauge", _management),
    ("kubecost_network_zone_egress_cost", "gauge", _network_price("zone")),
    ("kubecost_network_region_egress_cost", "gauge", _network_price("region")),
    ("kubecost_network_internet_egress_cost", "gauge", _network_price("internet")),
    ("kubecost_cluster_info", "gauge", _cluster_info),
    ("kubecost_pod_network_egress_bytes", "counter", _egress_bytes),
    ("kube_pod_labels", "gauge", _pod_labels),
    ("kube_namespace_labels", "gauge", _namespace_labels),
    ("kube_node_labels", "gauge", _node_k8s_labels),
    ("kube_pod_owner", "gauge", _pod_owner),
    ("kube_replicaset_owner", "gauge", _replicaset_owner),
    ("kube_pod_container_status_running", "gauge", _container_running),
    ("kube_pod_container_resource_requests", "gauge", _container_requests),
    ("kube_node_status_capacity_cpu_cores", "gauge", _node_state("cpu_cores")),
    ("kube_node_status_capacity_memory_bytes", "gauge", _node_state("ram_bytes")),
    ("kube_persistentvolumeclaim_info", "gauge", _pvc_info),
    ("kube_persistentvolume_capacity_bytes", "gauge", _pv_capacity),
    ("service_selector_labels", "gauge", _service_selectors),
    ("container_cpu_usage_seconds", "counter", _cadvisor("cpu")),
    ("container_memory_working_set_bytes", "gauge", _cadvisor("memory")),
]
