"""The metric contract: every series family a customer's cluster must send us.

One list for everything that needs it: the simulator's tests, the customer-side
remote-write keep-list, ingest checks. See ../shared/reference/kubecost-metrics.md.
"""

from __future__ import annotations

COST_MODEL_METRICS = (
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_gpu_hourly_cost",
    "node_gpu_count",
    "node_total_hourly_cost",
    "kubecost_node_is_spot",
    "container_cpu_allocation",
    "container_memory_allocation_bytes",
    "container_gpu_allocation",
    "pv_hourly_cost",
    "pod_pvc_allocation",
    "kubecost_load_balancer_cost",
    "kubecost_cluster_management_cost",
    "kubecost_network_zone_egress_cost",
    "kubecost_network_region_egress_cost",
    "kubecost_network_internet_egress_cost",
    "kubecost_cluster_info",
)
NETWORK_METRICS = ("kubecost_pod_network_egress_bytes_total",)
KUBE_STATE_METRICS = (
    "kube_pod_labels",
    "kube_namespace_labels",
    "kube_node_labels",
    "kube_pod_owner",
    "kube_replicaset_owner",
    "kube_pod_container_status_running",
    "kube_pod_container_resource_requests",
    "kube_node_status_capacity_cpu_cores",
    "kube_node_status_capacity_memory_bytes",
    "kube_persistentvolumeclaim_info",
    "kube_persistentvolume_capacity_bytes",
    "service_selector_labels",
)
# Usage, for efficiency and right-sizing (etl/metroculus/usage.py): cAdvisor, as the
# kubelet serves it at /metrics/cadvisor.
CADVISOR_METRICS = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")
CONTRACT_METRICS = frozenset(
    COST_MODEL_METRICS + NETWORK_METRICS + KUBE_STATE_METRICS + CADVISOR_METRICS
)
