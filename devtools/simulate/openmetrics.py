"""Render a scenario as the OpenMetrics text `promtool tsdb create-blocks-from openmetrics` reads.

The output is what a cluster's Prometheus would hold after remote-writing into Thanos:
the OpenCost metric contract (docs: kubecost-metrics.md) plus the kube-state-metrics
style series, every series labelled with its cluster's `tenant_id`. Families are
written one after the other (OpenMetrics requires a family's series to be contiguous),
each series' samples in increasing time order, streamed so memory stays flat.
`container_gpu_allocation` and the GPU request series exist only for containers that
request GPUs, and network counters only for the egress classes a pod actually uses.

The pitfalls a cluster may carry are rendered here too: its `gaps` drop every sample
inside them, each of its HA `replicas` writes every series (label `prometheus_replica`),
each of its `emitters` writes every `kube_*` series (label `job`), and a network-costs
restart (`network_resets`) restarts the counters of the pods on that node. A pod's
kube-state-metrics series last until it is deleted, reporting it not running (0) after
it completed; a node that is not `priced` has no price series.

Which labels each family carries, and under which name, is the scenario's `exporter`
shape (exporters.py): series are built here with every label a shape may keep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from devtools.simulate.exporters import DEFAULT_EXPORTER, Family, Shape, shape_named
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


def write_openmetrics(scenario: dict[str, Any], path: Path) -> int:
    """Write every series of `scenario` to `path`; returns the number of samples."""
    step = scenario["scrape_interval_s"]
    window = (scenario["start"], scenario["end"])
    shape = shape_named(scenario.get("exporter", DEFAULT_EXPORTER))
    written = 0
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        for family, kind, series_of, first in shaped_families(shape):
            if first:
                out.write(f"# TYPE {family} {kind}\n")
            sample_name = f"{family}_total" if kind == "counter" else family
            for cluster in scenario["clusters"]:
                gaps = [tuple(gap) for gap in cluster.get("gaps", [])]
                for copy_labels in _copies(cluster, family):
                    for series in series_of(cluster):
                        labels = _label_text({**copy_labels, **series.labels})
                        head = f"{sample_name}{{{labels}}} "
                        written += _write_samples(out, head, series, window, step, gaps)
        out.write("# EOF\n")
    return written


SeriesOf = Callable[[dict[str, Any]], Iterator[Series]]


def shaped_families(shape: Shape) -> Iterator[tuple[str, str, SeriesOf, bool]]:
    """(emitted name, type, series with the shape's labels, first of its name) per family.

    Two contract families may share an emitted name (KSM v2's `kube_node_status_capacity`);
    they are adjacent in FAMILIES, so the name's series stay contiguous under one TYPE.
    """
    previous = None
    for family, kind, series_of in FAMILIES:
        spec = shape.families[family]
        yield spec.name, kind, _relabelled(series_of, spec), spec.name != previous
        previous = spec.name


def _relabelled(series_of: SeriesOf, spec: Family) -> SeriesOf:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for one in series_of(cluster):
            yield replace(one, labels=spec.apply(one.labels))

    return series


def _copies(cluster: dict[str, Any], family: str) -> list[dict[str, str]]:
    """The labels telling apart the copies of one series: HA replicas and kube_* emitters."""
    copies = [{"tenant_id": cluster["tenant_id"]}]
    if family.startswith("kube_") and cluster.get("emitters"):
        copies = [{**labels, "job": job} for labels in copies for job in cluster["emitters"]]
    if cluster.get("replicas"):
        copies = [
            {**labels, "prometheus_replica": replica}
            for labels in copies
            for replica in cluster["replicas"]
        ]
    return copies


def _ticks(start: int, end: int, step: int, gaps: Sequence[tuple[int, int]]) -> range | list[int]:
    """Ticks t = k*step with start <= t < end, outside every gap [from, to)."""
    ticks = range(_ceil_tick(start, step), end, step)
    if not gaps:
        return ticks
    return [t for t in ticks if not any(lo <= t < hi for lo, hi in gaps)]


def _write_samples(
    out: IO[str],
    head: str,
    series: Series,
    window: tuple[int, int],
    step: int,
    gaps: Sequence[tuple[int, int]] = (),
) -> int:
    """Samples at ticks t = k*step with start <= t < end inside the window, outside gaps."""
    first = max(series.start, window[0])
    last = min(series.end, window[1])
    if series.rate is not None:
        ticks = _ticks(first, last, step, gaps)
        out.write("".join(_counter_lines(head, series, ticks)))
        return len(ticks)
    written = 0
    untils = [at for at, _ in series.pieces[1:]] + [last]
    for (at, value), until in zip(series.pieces, untils, strict=True):
        ticks = _ticks(max(first, at), min(last, until), step, gaps)
        prefix = f"{head}{_number(value)} "
        out.write("".join([f"{prefix}{t}\n" for t in ticks]))
        written += len(ticks)
    return written


def _counter_lines(head: str, series: Series, ticks: range | list[int]) -> list[str]:
    """`rate * (t - origin)` per tick; integers stay integers (the common, fast case)."""
    rate = _number(series.rate)
    show = str if isinstance(rate, int) else lambda value: str(_number(value))
    if not series.resets:
        origin = series.start
        return [f"{head}{show(rate * (t - origin))} {t}\n" for t in ticks]
    lines, origin, upcoming = [], series.start, sorted(series.resets)
    for t in ticks:
        while upcoming and upcoming[0] < t:
            origin = upcoming.pop(0)
        lines.append(f"{head}{show(rate * (t - origin))} {t}\n")
    return lines


def _ceil_tick(instant: int, step: int) -> int:
    return -(-instant // step) * step


def _number(value: float) -> int | float:
    """Integers print without a fraction; floats use Python's exact round-trip repr."""
    if isinstance(value, bool) or float(value).is_integer():
        return int(value)
    return float(value)


def _label_text(labels: dict[str, str]) -> str:
    return ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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
]
