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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from etl.days import day_end
from etl.promql import PromQLClient

GAUGE = "gauge"
COUNTER = "counter"


@dataclass(frozen=True)
class TenantDayQuery:
    """A named PromQL template; `{sel}` becomes the tenant's label matcher.

    `labels` are the columns of its answer, so an empty answer still has them.
    """

    name: str
    labels: tuple[str, ...]
    template: str
    evaluated: str = GAUGE

    def render(self, tenant: str) -> str:
        return self.template.replace("{sel}", tenant_selector(tenant))


NETWORK_CLASS_LABELS = ("internet", "same_zone", "same_region")


def _per(name: str, labels: tuple[str, ...], function: str, metric: str) -> TenantDayQuery:
    """`max by (labels) (function(metric{tenant}[1d]))`: one deduplicated row per entity."""
    return TenantDayQuery(
        name, labels, f"max by ({', '.join(labels)}) ({function}({metric}{{sel}}[1d]))"
    )


NODE = ("node",)
PV = ("persistentvolume",)

QUERIES: tuple[TenantDayQuery, ...] = (
    _per(
        "cluster_info",
        ("id", "name", "provider", "provisioner", "region"),
        "last_over_time",
        "kubecost_cluster_info",
    ),
    _per("node_cpu_cores", NODE, "avg_over_time", "kube_node_status_capacity_cpu_cores"),
    _per("node_ram_bytes", NODE, "avg_over_time", "kube_node_status_capacity_memory_bytes"),
    _per("node_gpu_count", NODE, "avg_over_time", "node_gpu_count"),
    _per("node_cpu_price_samples", NODE, "sum_over_time", "node_cpu_hourly_cost"),
    _per("node_ram_price_samples", NODE, "sum_over_time", "node_ram_hourly_cost"),
    _per("node_gpu_price_samples", NODE, "sum_over_time", "node_gpu_hourly_cost"),
    _per("pv_bytes", PV, "avg_over_time", "kube_persistentvolume_capacity_bytes"),
    _per("pv_price_samples", PV, "sum_over_time", "pv_hourly_cost"),
    _per(
        "load_balancer_rate_samples",
        ("namespace", "service_name"),
        "sum_over_time",
        "kubecost_load_balancer_cost",
    ),
    _per(
        "management_rate_samples",
        ("provisioner_name",),
        "sum_over_time",
        "kubecost_cluster_management_cost",
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
        "sum by (internet, same_zone, same_region) ("
        "max by (namespace, pod_name, internet, same_zone, same_region, service) "
        "(increase(kubecost_pod_network_egress_bytes_total{sel}[86400001ms])))",
        evaluated=COUNTER,
    ),
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


Answers = dict[str, pd.DataFrame]


def extract(client: PromQLClient, tenant: str, day: date) -> Answers:
    """Run every query for the tenant-day: query name -> frame of label columns + `value`."""
    frames = {}
    for query in QUERIES:
        at = evaluation_time(day, query.evaluated)
        samples = client.instant(query.render(tenant), at, tenant)
        rows = [
            [sample.labels.get(label, "") for label in query.labels] + [sample.value]
            for sample in samples
        ]
        frame = pd.DataFrame(rows, columns=[*query.labels, "value"])
        frames[query.name] = frame.astype({"value": "float64"})
    return frames
