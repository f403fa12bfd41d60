"""The PromQL query set of one tenant-day, and the extract that runs it.

Every query aggregates the whole day on the server and returns one row per
node, PV, load balancer, network class or provisioner: a fixed number of
instant queries per tenant-day, whatever the number of pods.

Day-edge convention (the same on Prometheus 2, Prometheus 3 and Thanos, whose
range selectors differ in whether the left end is closed):
- gauges are evaluated at the last millisecond of the day with a `[1d]` range,
  which selects exactly the samples stamped in [D 00:00, D+1 00:00); a sample
  stands for the scrape interval that starts at it;
- the network byte counter is evaluated at D+1 00:00 with a range of one day
  plus 1 ms, so both boundary samples are in and `increase` is the counter's
  growth from D 00:00 to D+1 00:00 (reset-aware).

Duplicates (a second kube-state-metrics, an HA Prometheus pair) are removed by
`max by (<entity key>)` before any sum, never by a plain `sum` over raw series.

Lives and prices over time (docs/allocation.md). An entity (node, container, claim,
PV, load balancer) lives over one interval: from the first to the last step of the
day at which it has a sample, found with a `[1d:R]` subquery (R = the cluster's scrape
interval). A price at a step is the entity's last sample within the gap tolerance
(held), so missed scrapes neither shorten a life nor drop its price; pinned with
`@ end()`, the entity's last step stops it. The node and PV views sum held prices over
the steps (exact for a spot price); for the allocation, the same held prices are
returned as change events (one row per price change: its instant and new value), so
the pods' and claims' shares of them are integrated over their lives in pandas, with
no per-step work over pods in PromQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from etl.core.days import day_end
from etl.metroculus.answers import Answers
from etl.metroculus.promql import PromQLClient
from etl.metroculus.usage import USAGE_QUERIES

GAUGE = "gauge"
COUNTER = "counter"
DEFAULT_STEP_S = 60
# The longest run of missed scrapes an entity is assumed to have lived (and kept its
# price) through; at least two scrape intervals.
SCRAPE_GAP_TOLERANCE_S = 900


@dataclass(frozen=True)
class TenantDayQuery:
    """A named PromQL template; `{sel}` becomes the tenant's label matcher (`{sel,x="y"}`
    the tenant's and more), `{step}` the
    cluster's scrape interval and `{gap}` the scrape-gap tolerance.

    `labels` are the columns of its answer, so an empty answer still has them; with
    `label_map`, a `labels` column also holds all of each sample's labels (JSON text,
    so archived extracts keep them exactly), for series whose label names vary.
    """

    name: str
    labels: tuple[str, ...]
    template: str
    evaluated: str = GAUGE
    label_map: bool = False

    def render(self, tenant: str, step_s: int = DEFAULT_STEP_S) -> str:
        gap_s = max(SCRAPE_GAP_TOLERANCE_S, 2 * step_s)
        matcher = tenant_selector(tenant)
        return (
            self.template.replace("{sel}", matcher)
            .replace("{sel,", matcher.removesuffix("}") + ",")
            .replace("{step}", f"{step_s}s")
            .replace("{window}", f"{step_s * 1000 - 1}ms")
            .replace("{gap}", f"{gap_s}s")
        )


NETWORK_CLASS_LABELS = ("internet", "same_zone", "same_region")


def _per(name: str, labels: tuple[str, ...], function: str, metric: str) -> TenantDayQuery:
    """`max by (labels) (function(metric{tenant}[1d]))`: one deduplicated row per entity."""
    return TenantDayQuery(
        name, labels, f"max by ({', '.join(labels)}) ({function}({metric}{{sel}}[1d]))"
    )


NODE = ("node",)
PV = ("persistentvolume",)
LOAD_BALANCER = ("namespace", "service_name")
# A container is named by (namespace, pod, container); `uid` tells apart two pods of one
# name within a day, but only where the exporter sends it (docs/exporters.md): OpenCost's
# container_*_allocation series carry no uid, so an absent label is an empty column.
CONTAINER = ("namespace", "pod", "container", "uid")
ALLOCATION_SERIES = (*CONTAINER, "node")
POD = ("namespace", "pod", "uid")
RUNNING = "kube_pod_container_status_running{sel}"


def _seen(series: str) -> str:
    """At a step t: t, for the series with a sample in the scrape interval ending at t.

    (`timestamp(series)` would give the sample's own time, but Prometheus 2 reads it
    from storage again at every step, several times slower; on scrapes aligned with
    the steps both agree, otherwise the step is at most one interval late.)
    """
    return f"timestamp(last_over_time({series}[{{window}}]))"


# Running containers only: kube-state-metrics keeps a completed pod's series (at 0)
# until the pod object is deleted.
RUNNING_SEEN = f"timestamp(last_over_time({RUNNING}[{{window}}]) == 1)"
EXTRA_LABELS = "instance, job, prometheus_replica, receive_replica"


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


def _edge(agg: str, timestamps: str, labels: tuple[str, ...]) -> str:
    """First (min) or last (max) sample timestamp of the day per entity, pinned to the end."""
    return f"{agg} by ({_by(labels)}) ({agg}_over_time({timestamps}[1d:{{step}}] @ end()))"


def _held(series: str, labels: tuple[str, ...]) -> str:
    """At a step: the entity's last value within the gap tolerance, until its last sample.

    `series` is a selector (`metric{sel}`)."""
    return (
        f"(max by ({_by(labels)}) (last_over_time({series}[{{gap}}]))"
        f" and on({_by(labels)}) ({_edge('max', _seen(series), labels)} >= time()))"
    )


def _held_steps(name: str, labels: tuple[str, ...], metric: str) -> TenantDayQuery:
    """Sum over the day's steps of the held value: value x steps, exact for spot prices."""
    return TenantDayQuery(
        name,
        labels,
        f"sum by ({_by(labels)}) (sum_over_time({_held(f'{metric}{{sel}}', labels)}[1d:{{step}}]))",
    )


def _labels(name: str, labels: tuple[str, ...], metric: str) -> TenantDayQuery:
    """Every label set of a `kube_*` info series over the day, duplicates merged."""
    return TenantDayQuery(
        name,
        labels,
        f"max without ({EXTRA_LABELS}) (max_over_time({metric}{{sel}}[1d]))",
        label_map=True,
    )


def _price_changes(name: str, labels: tuple[str, ...], metric: str) -> TenantDayQuery:
    """One row per change of the held price during the day (and one at 00:00): labels
    `price` (the new value) and `at` (Unix seconds), the entity's own labels besides."""
    by = _by(labels)
    price = _held(f"{metric}{{sel}}", labels)
    before = f"last_over_time({price}[{{step}}:{{step}}] offset {{step}})"
    changed = (
        f"(({price} != {before}) or ({price} unless {before})"
        f" or ({price} and on() (vector(time()) % 86400 == 0)))"
    )
    return TenantDayQuery(
        name,
        (*labels, "price", "at"),
        f"max by ({by}, price, at) (max_over_time(count_values by ({by}, price) "
        f'("at", timestamp(count_values by ({by}) ("price", {changed})))[1d:{{step}}]))',
    )


_CLAIM = ("namespace", "pod", "persistentvolume")
# Node capacity: kube-state-metrics v1 (and OpenCost's own emitter) name a family per
# resource; kube-state-metrics v2 has one family with `resource` and `unit`.
CAPACITY_V1 = {
    "cpu": "kube_node_status_capacity_cpu_cores{sel}",
    "memory": "kube_node_status_capacity_memory_bytes{sel}",
}


def _either_capacity(resource: str, function: str) -> str:
    """`max by (node) (function)` over the v1 family, or over the v2 one for the nodes
    v1 does not describe. `function` holds `{}` (the selector) or `{held}` (its held
    value at a step, see `_held`)."""
    v2 = f'kube_node_status_capacity{{sel,resource="{resource}"}}'
    return " or ".join(
        f"(max by (node) ({function.format(series, held=_held(series, NODE))}))"
        for series in (CAPACITY_V1[resource], v2)
    )


def _lives(prefix: str, labels: tuple[str, ...], series: str) -> tuple[TenantDayQuery, ...]:
    """`<prefix>_first_seen` and `<prefix>_last_seen`: the first and last step of the day
    at which each entity of `series` has a sample."""
    return tuple(
        TenantDayQuery(f"{prefix}_{edge}_seen", labels, _edge(agg, _seen(series), labels))
        for edge, agg in (("first", "min"), ("last", "max"))
    )


# The network-costs DaemonSet's counter, per series, its older camelCase spelling
# (`sameZone`, `sameRegion`) copied to the current one.
EGRESS = (
    "label_replace(label_replace(increase(kubecost_pod_network_egress_bytes_total{sel}[86400001ms]),"
    ' "same_zone", "$1", "sameZone", "(.+)"), "same_region", "$1", "sameRegion", "(.+)")'
)
POD_EGRESS = f"max by (namespace, pod_name, internet, same_zone, same_region, service) ({EGRESS})"


QUERIES: tuple[TenantDayQuery, ...] = (
    _per(
        "cluster_info",
        ("id", "name", "provider", "provisioner", "region"),
        "last_over_time",
        "kubecost_cluster_info",
    ),
    TenantDayQuery("node_cpu_cores", NODE, _either_capacity("cpu", "avg_over_time({}[1d])")),
    TenantDayQuery("node_ram_bytes", NODE, _either_capacity("memory", "avg_over_time({}[1d])")),
    _per("node_gpu_count", NODE, "avg_over_time", "node_gpu_count"),
    _held_steps("node_cpu_price_samples", NODE, "node_cpu_hourly_cost"),
    _held_steps("node_ram_price_samples", NODE, "node_ram_hourly_cost"),
    _held_steps("node_gpu_price_samples", NODE, "node_gpu_hourly_cost"),
    _per("pv_bytes", PV, "avg_over_time", "kube_persistentvolume_capacity_bytes"),
    _held_steps("pv_price_samples", PV, "pv_hourly_cost"),
    _held_steps("load_balancer_rate_samples", LOAD_BALANCER, "kubecost_load_balancer_cost"),
    _held_steps(
        "management_rate_samples", ("provisioner_name",), "kubecost_cluster_management_cost"
    ),
    TenantDayQuery(
        "network_class_price",
        ("class",),
        " or ".join(
            f"label_replace(max(avg_over_time(kubecost_network_{klass}_egress_cost{{sel}}[1d])),"
            f' "class", "{klass}", "", "")'
            for klass in ("zone", "region", "internet")
        ),
    ),
    TenantDayQuery(
        "network_egress_bytes",
        NETWORK_CLASS_LABELS,
        f"sum by (internet, same_zone, same_region) ({POD_EGRESS})",
        evaluated=COUNTER,
    ),
    # The allocation (etl/costmodel/allocation.py): nodes, containers, pods, claims, services.
    TenantDayQuery(
        "node_life_steps",
        NODE,
        _either_capacity("cpu", "count_over_time({held}[1d:{{step}}])"),
    ),
    _per(
        "node_provider_ids",
        ("node", "provider_id", "region"),
        "present_over_time",
        "node_cpu_hourly_cost",
    ),
    TenantDayQuery(
        "container_first_seen",
        CONTAINER,
        f"min by ({_by(CONTAINER)}) (min_over_time({RUNNING_SEEN}[1d:{{step}}]))",
    ),
    TenantDayQuery(
        "container_last_seen",
        CONTAINER,
        f"max by ({_by(CONTAINER)}) (max_over_time({RUNNING_SEEN}[1d:{{step}}]))",
    ),
    _per(
        "container_cpu_allocation",
        ALLOCATION_SERIES,
        "avg_over_time",
        "container_cpu_allocation",
    ),
    _per(
        "container_ram_allocation",
        ALLOCATION_SERIES,
        "avg_over_time",
        "container_memory_allocation_bytes",
    ),
    _per(
        "container_gpu_allocation",
        ALLOCATION_SERIES,
        "avg_over_time",
        "container_gpu_allocation",
    ),
    # The life of each allocation series: which of two same-named pods it belongs to
    # (etl/costmodel/allocation/pods.py).
    *_lives("container_allocation", ALLOCATION_SERIES, "container_cpu_allocation{sel}"),
    _per(
        "container_requests",
        (*CONTAINER, "node", "resource"),
        "avg_over_time",
        "kube_pod_container_resource_requests",
    ),
    _price_changes("node_cpu_price_changes", NODE, "node_cpu_hourly_cost"),
    _price_changes("node_ram_price_changes", NODE, "node_ram_hourly_cost"),
    _price_changes("node_gpu_price_changes", NODE, "node_gpu_hourly_cost"),
    _per("pod_owners", (*POD, "owner_kind", "owner_name"), "max_over_time", "kube_pod_owner"),
    _per(
        "replicaset_owners",
        ("namespace", "replicaset", "owner_kind", "owner_name"),
        "max_over_time",
        "kube_replicaset_owner",
    ),
    _labels("pod_labels", POD, "kube_pod_labels"),
    _labels("namespace_labels", ("namespace",), "kube_namespace_labels"),
    _labels("service_selectors", ("namespace", "service"), "service_selector_labels"),
    _per("claim_bytes", _CLAIM, "avg_over_time", "pod_pvc_allocation"),
    *_lives("claim", _CLAIM, "pod_pvc_allocation{sel}"),
    _price_changes("pv_price_changes", PV, "pv_hourly_cost"),
    *_lives("load_balancer", LOAD_BALANCER, "kubecost_load_balancer_cost{sel}"),
    TenantDayQuery(
        "pod_network_egress_bytes",
        ("namespace", "pod_name", *NETWORK_CLASS_LABELS, "service"),
        POD_EGRESS,
        evaluated=COUNTER,
    ),
    # Usage (cAdvisor), for efficiency and right-sizing only: etl/metroculus/usage.py.
    *(TenantDayQuery(*spec) for spec in USAGE_QUERIES),
)

_SAFE_TENANT = re.compile(r"[A-Za-z0-9._:-]+")


def tenant_selector(tenant: str) -> str:
    """`{tenant_id="<tenant>"}`; tenant ids are restricted so no PromQL can be injected."""
    if not _SAFE_TENANT.fullmatch(tenant):
        raise ValueError(f"tenant id {tenant!r} has characters a tenant id cannot have")
    return f'{{tenant_id="{tenant}"}}'


def evaluation_time(day: date, evaluated: str) -> datetime:
    """When a query of kind `evaluated` is evaluated for `day` (see the module docstring)."""
    end = day_end(day)
    return end - timedelta(milliseconds=1) if evaluated == GAUGE else end


def extract(client: PromQLClient, tenant: str, day: date, step_s: int = DEFAULT_STEP_S) -> Answers:
    """Run every query for the tenant-day: query name -> frame of label columns + `value`.

    `step_s` is the cluster's scrape interval (the subqueries' resolution).
    """
    frames = {}
    for query in QUERIES:
        at = evaluation_time(day, query.evaluated)
        samples = client.instant(query.render(tenant, step_s), at, tenant)
        extra = ["labels"] if query.label_map else []
        rows = [
            [sample.labels.get(label, "") for label in query.labels]
            + ([json.dumps(sample.labels, sort_keys=True)] if query.label_map else [])
            + [sample.value]
            for sample in samples
        ]
        frame = pd.DataFrame(rows, columns=[*query.labels, *extra, "value"])
        frames[query.name] = frame.astype({"value": "float64"})
    return frames
