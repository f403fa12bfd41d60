"""Exporter shapes: which label names each metric family carries, per producer and version.

Why: customers send what their exporter version emits, not what we would like. The
scenario (what exists) stays the same; a shape only decides how it is rendered: which
labels each family keeps, under which names, and whether a family is renamed. Facts
and their sources are in docs/exporters.md, whose table the unit tests compare with
the rendered output (tests/unit/test_exporter_shapes.py), so the two cannot drift.

A family's series are built with every label any shape may want (openmetrics.py);
`Family.labels` keeps the named ones, `label_*` keeps the Kubernetes labels, `renames`
respells label names and `constants` adds fixed labels (KSM v2's `resource`/`unit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

K8S_LABELS = "label_*"


@dataclass(frozen=True)
class Family:
    """How one family is emitted: its name and its label names, in order."""

    name: str
    labels: tuple[str, ...]
    renames: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)

    def apply(self, labels: dict[str, str]) -> dict[str, str]:
        """The series' labels as this family emits them."""
        kept = {
            self.renames.get(name, name): value
            for name, value in labels.items()
            if name in self.labels or (K8S_LABELS in self.labels and name.startswith("label_"))
        }
        return {**kept, **self.constants}


@dataclass(frozen=True)
class Scrape:
    """The target labels the customer's Prometheus adds to a scrape's series.

    Prometheus sets `job` and `instance` on every scraped series. Where the exporter
    already set one (the cost model's `instance`, the node's name), `honor_labels: true`
    keeps the exporter's; `false` (Prometheus' default) keeps the target's and renames
    the exporter's to `exported_<name>` (Prometheus' scrape_config documentation).
    `families` are the contract families scraped from this target.
    """

    labels: dict[str, str]
    honor_labels: bool
    families: frozenset[str]

    def apply(self, labels: dict[str, str]) -> dict[str, str]:
        """A scraped series' labels as Prometheus stores them."""
        stored = dict(labels)
        for name, value in self.labels.items():
            if name not in stored:
                stored[name] = value
            elif not self.honor_labels:
                stored[f"exported_{name}"] = stored[name]
                stored[name] = value
        return stored


@dataclass(frozen=True)
class Shape:
    """One supported exporter setup; `families` maps each contract family to its rendering,
    `scrape` (if set) what the customer's Prometheus adds to those it scrapes."""

    name: str
    summary: str
    families: dict[str, Family]
    scrape: Scrape | None = None

    def stored(self, family: str, labels: dict[str, str]) -> dict[str, str]:
        """A series' labels as the customer's Prometheus stores them."""
        if self.scrape is None or family not in self.scrape.families:
            return labels
        return self.scrape.apply(labels)


def _same(names: dict[str, tuple[str, ...]]) -> dict[str, Family]:
    return {family: Family(family, labels) for family, labels in names.items()}


_NODE = ("instance", "node", "instance_type", "region", "provider_id")
_CONTAINER = ("namespace", "pod", "container", "instance", "node")
_NETWORK = ("namespace", "pod_name", "internet", "same_zone", "same_region", "service")

# pkg/costmodel/metrics.go at 4ed1bcfe: no uid on any series, no arch on nodes.
_COST_MODEL = _same(
    {
        "node_cpu_hourly_cost": _NODE,
        "node_ram_hourly_cost": _NODE,
        "node_gpu_hourly_cost": _NODE,
        "node_gpu_count": _NODE,
        "node_total_hourly_cost": _NODE,
        "kubecost_node_is_spot": _NODE,
        "container_cpu_allocation": _CONTAINER,
        "container_memory_allocation_bytes": _CONTAINER,
        "container_gpu_allocation": _CONTAINER,
        "pv_hourly_cost": ("volumename", "persistentvolume", "provider_id"),
        "pod_pvc_allocation": ("namespace", "pod", "persistentvolumeclaim", "persistentvolume"),
        "kubecost_load_balancer_cost": ("ingress_ip", "namespace", "service_name"),
        "kubecost_cluster_management_cost": ("provisioner_name",),
        "kubecost_network_zone_egress_cost": (),
        "kubecost_network_region_egress_cost": (),
        "kubecost_network_internet_egress_cost": (),
        "kubecost_cluster_info": ("id", "name", "provider", "provisioner", "region"),
        "kubecost_pod_network_egress_bytes": _NETWORK,
    }
)

# pkg/costmodel/metrics.go at 02e06667: uid on every entity series, arch on nodes.
_COST_MODEL_UID = {
    **_COST_MODEL,
    **_same(
        {
            **{name: (*_NODE, "arch", "uid") for name in _COST_MODEL if name.startswith("node_")},
            "kubecost_node_is_spot": (*_NODE, "arch", "uid"),
            "container_cpu_allocation": (*_CONTAINER, "uid"),
            "container_memory_allocation_bytes": (*_CONTAINER, "uid"),
            "container_gpu_allocation": (*_CONTAINER, "uid"),
            "pv_hourly_cost": ("volumename", "persistentvolume", "provider_id", "uid"),
            "pod_pvc_allocation": (
                "namespace",
                "pod",
                "persistentvolumeclaim",
                "persistentvolume",
                "uid",
            ),
            "kubecost_load_balancer_cost": ("ingress_ip", "namespace", "service_name", "uid"),
        }
    ),
}

_REPLICASET_OWNER = ("namespace", "replicaset", "owner_kind", "owner_name", "owner_is_controller")
_POD_OWNER = ("namespace", "pod", "owner_name", "owner_kind", "owner_is_controller")

# OpenCost's own kube-state-metrics-v1 style emitters (pkg/metrics/*.go, stored versions).
# It registers no ReplicaSet collector: kube_replicaset_owner comes from a real KSM.
_OPENCOST_KSM1 = _same(
    {
        "kube_pod_labels": ("namespace", "pod", "uid", K8S_LABELS),
        "kube_namespace_labels": ("namespace", "uid", K8S_LABELS),
        "kube_node_labels": ("node", "uid", K8S_LABELS),
        "kube_pod_owner": _POD_OWNER,
        "kube_replicaset_owner": _REPLICASET_OWNER,
        "kube_pod_container_status_running": ("namespace", "pod", "container", "uid"),
        "kube_pod_container_resource_requests": (
            "namespace",
            "pod",
            "container",
            "uid",
            "node",
            "resource",
            "unit",
        ),
        "kube_node_status_capacity_cpu_cores": ("node", "uid"),
        "kube_node_status_capacity_memory_bytes": ("node", "uid"),
        "kube_persistentvolumeclaim_info": (
            "namespace",
            "persistentvolumeclaim",
            "storageclass",
            "volumename",
            "uid",
        ),
        "kube_persistentvolume_capacity_bytes": ("persistentvolume",),
        "service_selector_labels": ("namespace", "service", "uid", K8S_LABELS),
    }
)

# kube-state-metrics v2 (docs/metrics/*/*.md): pod series carry uid; capacity is one
# family with resource/unit. service_selector_labels still comes from OpenCost.
_CAPACITY = ("node", "resource", "unit")
_KSM2 = {
    **_same(
        {
            "kube_pod_labels": ("namespace", "pod", "uid", K8S_LABELS),
            "kube_namespace_labels": ("namespace", K8S_LABELS),
            "kube_node_labels": ("node", K8S_LABELS),
            "kube_pod_owner": (*_POD_OWNER, "uid"),
            "kube_replicaset_owner": _REPLICASET_OWNER,
            "kube_pod_container_status_running": ("namespace", "pod", "container", "uid"),
            "kube_pod_container_resource_requests": _OPENCOST_KSM1[
                "kube_pod_container_resource_requests"
            ].labels,
            "kube_persistentvolumeclaim_info": (
                "namespace",
                "persistentvolumeclaim",
                "storageclass",
                "volumename",
                "volumemode",
            ),
            "kube_persistentvolume_capacity_bytes": ("persistentvolume",),
        }
    ),
    "kube_node_status_capacity_cpu_cores": Family(
        "kube_node_status_capacity", ("node",), constants={"resource": "cpu", "unit": "core"}
    ),
    "kube_node_status_capacity_memory_bytes": Family(
        "kube_node_status_capacity", ("node",), constants={"resource": "memory", "unit": "byte"}
    ),
    "service_selector_labels": _OPENCOST_KSM1["service_selector_labels"],
}

# Older network-costs images spell the class labels in camelCase.
_CAMEL_NETWORK = {
    "kubecost_pod_network_egress_bytes": Family(
        "kubecost_pod_network_egress_bytes",
        _NETWORK,
        renames={"same_zone": "sameZone", "same_region": "sameRegion"},
    )
}

# The kubelet's /metrics/cadvisor: cAdvisor's own labels (`id`, `name`, `image`, `cpu` on
# the cpu counter) and the kubelet's `namespace`, `pod`, `container`; the same in every
# shape (it is not the cost model's or kube-state-metrics' output).
_CADVISOR = _same(
    {
        "container_cpu_usage_seconds": (
            "container",
            "cpu",
            "id",
            "image",
            "name",
            "namespace",
            "pod",
        ),
        "container_memory_working_set_bytes": (
            "container",
            "id",
            "image",
            "name",
            "namespace",
            "pod",
        ),
    }
)

# Kubecost 2.x, as a real scrape of its /metrics shows it (docs/exporters.md [24]): node
# series with `arch` and no uid, container series without uid; its own KSM v1 style
# kube_* families (it bundles no kube-state-metrics, [22]) with uid on pod series only
# (labels, running, requests), none on namespaces, nodes, capacity, claims or Service
# selectors; network-costs spelling sameZone/sameRegion [13]. One target, scraped by the
# customer's Prometheus with or without honor_labels.
_KUBECOST = {
    **_COST_MODEL,
    **_same({name: (*_NODE, "arch") for name in _COST_MODEL if name.startswith("node_")}),
    "kubecost_node_is_spot": Family("kubecost_node_is_spot", (*_NODE, "arch")),
    **_OPENCOST_KSM1,
    **_same(
        {
            "kube_namespace_labels": ("namespace", K8S_LABELS),
            "kube_node_labels": ("node", K8S_LABELS),
            "kube_node_status_capacity_cpu_cores": ("node",),
            "kube_node_status_capacity_memory_bytes": ("node",),
            "kube_persistentvolumeclaim_info": (
                "namespace",
                "persistentvolumeclaim",
                "storageclass",
                "volumename",
            ),
            "service_selector_labels": ("namespace", "service", K8S_LABELS),
        }
    ),
    **_CAMEL_NETWORK,
    **_CADVISOR,
}
KUBECOST_TARGET = {"job": "kubecost", "instance": "kubecost-cost-analyzer.kubecost:9003"}


def _kubecost_scrape(honor_labels: bool) -> Scrape:
    scraped = frozenset(_KUBECOST) - frozenset(_CADVISOR)  # cAdvisor: the kubelet's target
    return Scrape(KUBECOST_TARGET, honor_labels, scraped)


SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in [
        Shape(
            "opencost",
            "OpenCost cost model without uid labels, its KSM v1 emitters, network-costs",
            {**_COST_MODEL, **_OPENCOST_KSM1, **_CADVISOR},
        ),
        Shape(
            "opencost-uid",
            "OpenCost cost model with uid (and arch) labels, its KSM v1 emitters",
            {**_COST_MODEL_UID, **_OPENCOST_KSM1, **_CADVISOR},
        ),
        Shape(
            "ksm2",
            "OpenCost cost model without uid, a real kube-state-metrics v2 for kube_*",
            {**_COST_MODEL, **_KSM2, **_CADVISOR},
        ),
        Shape(
            "network-camelcase",
            "as opencost, with an older network-costs DaemonSet (sameZone, sameRegion)",
            {**_COST_MODEL, **_OPENCOST_KSM1, **_CAMEL_NETWORK, **_CADVISOR},
        ),
        Shape(
            "kubecost",
            "Kubecost 2.x cost model with its own KSM v1 style kube_*, scraped with honor_labels",
            _KUBECOST,
            _kubecost_scrape(honor_labels=True),
        ),
        Shape(
            "kubecost-relabelled",
            "as kubecost, scraped without honor_labels (its instance label is exported_instance)",
            _KUBECOST,
            _kubecost_scrape(honor_labels=False),
        ),
    ]
}
DEFAULT_EXPORTER = "opencost"


def shape_named(name: str) -> Shape:
    """The shape called `name`; a ValueError names the supported ones."""
    if name not in SHAPES:
        raise ValueError(f"unknown exporter {name!r}: choose from {sorted(SHAPES)}")
    return SHAPES[name]
