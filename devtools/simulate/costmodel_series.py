"""OpenCost's cost-model gauges (pkg/costmodel/metrics.go, docs/exporters.md [1], [2]) and
the network-costs DaemonSet's egress counter, as a simulated cluster has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from devtools.simulate.scenario import GIB
from devtools.simulate.series import Series, SeriesOf, constant, price_at, service_uid

# Class -> (internet, same_zone, same_region, service) labels, per the metric contract.
EGRESS_CLASSES = {
    "zone": ("false", "false", "true", "cross-zone"),
    "region": ("false", "false", "false", "cross-region"),
    "internet": ("true", "false", "false", "internet"),
}


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
                node["cpu_cores"] * price_at(prices["cpu"], at)
                + node["ram_bytes"] / GIB * price_at(prices["ram"], at)
                + node["gpu_count"] * price_at(prices["gpu"], at),
            )
            for at in changes
        )
        yield Series(_node_labels(node), node["start"], node["end"], pieces)


def _node_value(key: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for node in cluster["nodes"]:
            yield constant(node, _node_labels(node), node[key])

    return series


def _containers(
    value_of: Callable[[dict[str, Any]], float], only_gpu: bool = False
) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for pod in cluster["pods"]:
            for container in pod["containers"]:
                if (only_gpu and not container["gpu"]) or not container.get("allocation", True):
                    continue
                labels = {
                    "namespace": pod["namespace"],
                    "pod": pod["name"],
                    "container": container["name"],
                    "node": pod["node"],
                    "instance": pod["node"],
                    "uid": pod["uid"],
                }
                yield constant(pod, labels, value_of(container))

    return series


def _pv_cost(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        labels = {
            "persistentvolume": pv["name"],
            "volumename": pv["name"],
            "provider_id": pv["provider_id"],
            "uid": pv["uid"],
        }
        yield constant(pv, labels, pv["price_per_gib_hour"])


def _pod_pvc_allocation(cluster: dict[str, Any]) -> Iterator[Series]:
    pods = {pod["uid"]: pod for pod in cluster["pods"]}
    for pv in cluster["pvs"]:
        claim = pv["pvc"]
        for uid in pv["mounted_by"] if claim else ():
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


def _load_balancers(cluster: dict[str, Any]) -> Iterator[Series]:
    for lb in cluster["load_balancers"]:
        labels = {
            "namespace": lb["namespace"],
            "service_name": lb["service_name"],
            "ingress_ip": lb["ingress_ip"],
            "uid": service_uid(cluster, lb),
        }
        yield constant(lb, labels, lb["rate_per_hour"])


def _management(cluster: dict[str, Any]) -> Iterator[Series]:
    labels = {"provisioner_name": cluster["info"]["provisioner"]}
    yield constant(cluster, labels, cluster["management_fee_per_hour"])


def _network_price(egress_class: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        yield constant(cluster, {}, cluster["network_prices"][egress_class])

    return series


def _cluster_info(cluster: dict[str, Any]) -> Iterator[Series]:
    yield constant(cluster, dict(cluster["info"]), 1)


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


# (family name, OpenMetrics type, the series one cluster has in that family)
COST_MODEL_FAMILIES: list[tuple[str, str, SeriesOf]] = [
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
]
