"""OpenCost's allocation query set for one day, the reference bench/etl.py measures ours by.

Written from the public query formats of opencost/opencost
`modules/prometheus-source/pkg/prom/metricsquerier.go` (e7548d62), the methods that
`pkg/costmodel/allocation.go` (af00a3eb) calls for one window (docs/allocation.md
#benchmark): `[1d]` windows, the subqueries at the resolution (`<res>`, 5m by default,
`PROMETHEUS_QUERY_RESOLUTION_SECONDS`). `<f>` is the cluster filter (here the tenant's
matcher, as ours is scoped), `cluster_id` the cluster label. Left out: the GPU
saturation queries (sent only with `IsGPUSaturationMetricsEnabled`; DCGM series, which
the simulated clusters do not have, so they would answer empty).

Conditional, as OpenCost sends it: the cpu usage maximum reads Kubecost's recording
rule `kubecost_container_cpu_usage_irate` first and, when that answers nothing (a
Prometheus without Kubecost's rules, as a plain OpenCost install has), the `irate`
subquery over `container_cpu_usage_seconds_total` (its window twice the resolution).
"""

from __future__ import annotations

_C = 'container!="", container!="POD"'
_BY_C = "container, pod, namespace, node, uid, cluster_id"
_BY_U = "container_name, container, pod_name, pod, namespace, node, instance, uid, cluster_id"
_WS = (
    'container_memory_working_set_bytes{container!="", container_name!="POD", container!="POD",'
    " <f>}"
)
_RUNNING = "kube_pod_container_status_running{<f>} != 0"
_EGRESS = "kubecost_pod_network_egress_bytes_total"
_GIB = " / 1024 / 1024 / 1024"


def _requests(resource: str, unit: str = "", family: str = "requests") -> str:
    unit = f' unit="{unit}",' if unit else ""
    return (
        f'avg(avg_over_time(kube_pod_container_resource_{family}{{resource="{resource}",{unit}'
        f' {_C}, node!="", <f>}}[1d])) by ({_BY_C})'
    )


def _network(matchers: str, by: str, metric: str = _EGRESS, gib: str = _GIB) -> str:
    return f"sum(increase({metric}{{{matchers}<f>}}[1d:<res>])) by ({by}){gib}"


_POD_EGRESS = "pod_name, namespace, uid, cluster_id"
_LABELS = (
    "kube_node_labels",
    "kube_namespace_labels",
    "kube_namespace_annotations",
    "kube_pod_labels",
    "kube_pod_annotations",
    "service_selector_labels",
    "deployment_match_labels",
    "statefulSet_match_labels",
)
_NETWORK_PRICES = (
    "zone_egress",
    "region_egress",
    "internet_egress",
    "nat_gateway_egress",
    "nat_gateway_ingress",
)

# A query, or (query, fallback): the fallback is sent when the query answers nothing.
QUERIES: tuple[str | tuple[str, str], ...] = (
    *(
        f"{edge}_over_time(timestamp(avg({_RUNNING}) by (pod, namespace, uid, cluster_id))"
        "[1d:<res>])"
        for edge in ("min", "max")
    ),
    f'avg(avg_over_time(container_memory_allocation_bytes{{{_C}, node!="", <f>}}[1d]))'
    f" by ({_BY_C}, provider_id)",
    _requests("memory", "byte"),
    _requests("memory", "byte", "limits"),
    f"avg(avg_over_time({_WS}[1d])) by ({_BY_U})",
    f"max(max_over_time({_WS}[1d])) by ({_BY_U})",
    f'avg(avg_over_time(container_cpu_allocation{{{_C}, node!="", <f>}}[1d])) by ({_BY_C})',
    _requests("cpu", "core"),
    _requests("cpu", "core", "limits"),
    'avg(rate(container_cpu_usage_seconds_total{container!="", container_name!="POD",'
    f' container!="POD", <f>}}[1d])) by ({_BY_U})',
    (
        f"max(max_over_time(kubecost_container_cpu_usage_irate{{<f>}}[1d])) by ({_BY_U})",
        'max(max_over_time(irate(container_cpu_usage_seconds_total{container!="POD",'
        ' container!="", <f>}[<res2>])[1d:<res>])) by (container, pod_name, pod, namespace,'
        " node, instance, uid, cluster_id)",
    ),
    'avg(avg_over_time(kube_pod_container_resource_requests{container!="", node != "",'
    ' pod != "", container!= "", unit = "integer",  <f>}[1d]))'
    " by (container, pod, namespace, node, resource, uid, cluster_id)",
    f'avg(avg_over_time(container_gpu_allocation{{{_C}, node!="", <f>}}[1d])) by ({_BY_C})',
    _requests("nvidia_com_gpu"),
    *(
        f'{agg}({agg}_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE{{container!=""}}[1d]))'
        " by (container, pod, namespace, pod_uid, cluster_id)"
        for agg in ("avg", "max")
    ),
    'avg(avg_over_time(DCGM_FI_DEV_DEC_UTIL{container!="",<f>}[1d])) by (container, pod,'
    " namespace, device, modelName, UUID, pod_uid, cluster_id)",
    *(
        f"avg(avg_over_time(node_{kind}_hourly_cost{{<f>}}[1d]))"
        " by (node, uid, cluster_id, instance_type, provider_id)"
        for kind in ("cpu", "ram", "gpu")
    ),
    "avg_over_time(kubecost_node_is_spot{<f>}[1d])",
    'avg(kube_persistentvolumeclaim_info{volumename != "", <f>}) by (persistentvolumeclaim,'
    " storageclass, volumename, namespace, uid, cluster_id)[1d:<res>]",
    "avg(avg_over_time(pod_pvc_allocation{<f>}[1d])) by (persistentvolume,"
    " persistentvolumeclaim, pod, namespace, uid, cluster_id)",
    "avg(avg_over_time(kube_persistentvolumeclaim_resource_requests_storage_bytes{<f>}[1d]))"
    " by (persistentvolumeclaim, namespace, uid, cluster_id)",
    "avg(kube_persistentvolume_capacity_bytes{<f>}) by (cluster_id, persistentvolume, uid)"
    "[1d:<res>]",
    "avg(avg_over_time(kube_persistentvolume_capacity_bytes{<f>}[1d]))"
    " by (cluster_id, persistentvolume, uid)",
    "avg(avg_over_time(pv_hourly_cost{<f>}[1d]))"
    " by (cluster_id, persistentvolume, volumename, uid, provider_id)",
    "avg(avg_over_time(kubecost_pv_info{<f>}[1d]))"
    " by (cluster_id, storageclass, persistentvolume, uid, provider_id)",
    _network('internet="false", same_zone="false", same_region="true", ', _POD_EGRESS),
    _network('internet="false", same_zone="false", same_region="false", ', _POD_EGRESS),
    _network('internet="true", ', _POD_EGRESS),
    _network('nat_gateway="true", ', "pod_name, namespace, service, uid, cluster_id"),
    _network(
        'nat_gateway="true", ',
        "pod_name, namespace, service, uid, cluster_id",
        "kubecost_pod_network_ingress_bytes_total",
    ),
    *(
        f"avg(avg_over_time(kubecost_network_{kind}_cost{{<f>}}[1d])) by (cluster_id)"
        for kind in _NETWORK_PRICES
    ),
    *(
        _network('pod!="", ', "pod_name, pod, namespace, uid, cluster_id", metric, "")
        for metric in (
            "container_network_transmit_bytes_total",
            "container_network_receive_bytes_total",
        )
    ),
    *(f"avg_over_time({metric}{{<f>}}[1d])" for metric in _LABELS),
    *(
        f'sum(avg_over_time(kube_pod_owner{{owner_kind="{kind}", <f>}}[1d]))'
        " by (pod, owner_name, namespace, uid, cluster_id)"
        for kind in ("DaemonSet", "Job", "ReplicaSet")
    ),
    'avg(avg_over_time(kube_replicaset_owner{owner_kind="<none>", owner_name="<none>", <f>}'
    "[1d])) by (replicaset, namespace, uid, cluster_id)",
    'avg(avg_over_time(kube_replicaset_owner{owner_kind="Rollout", <f>}[1d]))'
    " by (replicaset, namespace, owner_kind, owner_name, uid, cluster_id)",
    "avg(avg_over_time(kubecost_load_balancer_cost{<f>}[1d]))"
    " by (namespace, service_name, ingress_ip, uid, cluster_id)",
    "avg(kubecost_load_balancer_cost{<f>}) by (namespace, service_name, uid, cluster_id,"
    " ingress_ip)[1d:<res>]",
)


def render(query: str, tenant_matcher: str, resolution_m: int) -> str:
    """One query for a tenant (`tenant_id="..."`) at a resolution in minutes."""
    return (
        query.replace("<f>", tenant_matcher)
        .replace("<res2>", f"{2 * resolution_m}m")
        .replace("<res>", f"{resolution_m}m")
    )
