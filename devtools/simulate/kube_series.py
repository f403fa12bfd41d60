"""The `kube_*` families (kube-state-metrics, or OpenCost's own emitters: docs/exporters.md
[3]-[11]) and OpenCost's `service_selector_labels`, as a simulated cluster has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from devtools.simulate.scenario import entity_uid
from devtools.simulate.series import Series, SeriesOf, constant, label_names, service_uid


def _node_state(key: str) -> Callable[[dict[str, Any]], Iterator[Series]]:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for node in cluster["nodes"]:
            yield constant(node, {"node": node["name"], "uid": node["uid"]}, node[key])

    return series


def _node_k8s_labels(cluster: dict[str, Any]) -> Iterator[Series]:
    for node in cluster["nodes"]:
        labels = label_names(
            "label_",
            {
                "kubernetes.io/arch": node["arch"],
                "node.kubernetes.io/instance-type": node["instance_type"],
                "topology.kubernetes.io/region": node["region"],
                "topology.kubernetes.io/zone": node["zone"],
            },
        )
        yield constant(node, {"node": node["name"], "uid": node["uid"], **labels}, 1)


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
        yield _until_deleted(pod, {**labels, **label_names("label_", pod["labels"])}, 1)


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
            **label_names("label_", namespace["labels"]),
        }
        yield constant(namespace, labels, 1)


def _replicaset_owner(cluster: dict[str, Any]) -> Iterator[Series]:
    for rs in cluster["replicasets"]:
        labels = {
            "namespace": rs["namespace"],
            "replicaset": rs["name"],
            "owner_kind": rs["owner_kind"],
            "owner_name": rs["owner_name"],
            "owner_is_controller": "true",
        }
        yield constant(rs, labels, 1)


def _pvc_info(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        claim = pv["pvc"]
        if claim is None:  # released: no claim object, so no series
            continue
        labels = {
            "namespace": claim["namespace"],
            "persistentvolumeclaim": claim["name"],
            "storageclass": pv["storage_class"],
            "volumename": pv["name"],
            "volumemode": "Filesystem",
            "uid": entity_uid(cluster["tenant_id"], "pvc", f"{claim['namespace']}/{claim['name']}"),
        }
        yield constant(pv, labels, 1)


def _pv_capacity(cluster: dict[str, Any]) -> Iterator[Series]:
    for pv in cluster["pvs"]:
        yield constant(pv, {"persistentvolume": pv["name"]}, pv["capacity_bytes"])


def _service_selectors(cluster: dict[str, Any]) -> Iterator[Series]:
    for lb in cluster["load_balancers"]:
        labels = {
            "namespace": lb["namespace"],
            "service": lb["service_name"],
            "uid": service_uid(cluster, lb),
            **label_names("label_", lb["selector"]),
        }
        yield constant(lb, labels, 1)


# (family name, OpenMetrics type, the series one cluster has in that family)
KUBE_FAMILIES: list[tuple[str, str, SeriesOf]] = [
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
