"""The PromQL query set of one tenant-day: each metric family read about once.

A tenant-day's time is PromQL's, and Thanos' evaluation is shared by every tenant, so
the set is built around what is cheap to evaluate: a range function over raw samples
(`count_over_time(x[1d])`: every sample read once, one row per series) costs about a
twentieth of a `[1d:R]` subquery, which evaluates its inner expression at every step of
every series. So every family is read with `*_over_time` over raw samples, several
figures per query where one family needs several (`or` of parts labelled
`k8scost_part`), and the per-step definitions (lives, held prices, price changes:
docs/allocation.md) are applied only where the raw figures cannot settle them:
- node families (`NODE_SUMMARY`): a node whose series have one sample per scrape
  interval all day at one value (the usual on-demand node) is settled by its count,
  its changes and its first and last step; the others' raw samples are fetched
  (phase 2, `nodes.node_samples_query`) and finished in pandas (etl/metroculus/held.py);
- containers (`RUNNING`): an hourly presence mask per series (24 bits, each raw sample
  read once) and whether it was seen at the day's first and last step; the others'
  first and last step are found by a per-step subquery over their boundary hour only,
  selecting them by name (phase 2, etl/metroculus/lives.py); the allocation series'
  lives the same way (`ALLOCATION`), for the few series whose life decides something;
- PVs, claims, load balancers and the management fee (`SMALL_FAMILIES`): their raw
  samples, few at any cluster size, in one range selector, finished in pandas.
The number of queries is fixed (the later rounds' queries are always sent, selecting
nothing when nothing needs them), whatever the number of pods.

Day-edge convention (the same on Prometheus 2, Prometheus 3 and Thanos, whose range
selectors differ in whether the left end is closed): gauges are evaluated at the last
millisecond of the day with a `[1d]` range (the samples stamped in [D, D+1)); a step t
of the day (D, D+R, ..., D+1-R) *sees* a series with a sample in `(t - R, t]`; the
network byte counter is evaluated at D+1 00:00 over one day plus 1 ms (`increase` from
D 00:00 to D+1 00:00, reset-aware). Duplicates (a second kube-state-metrics, an HA
pair) are merged with `max by (<entity key>)`, here or in pandas, never summed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from etl.core.days import day_end
from etl.core.labels import ALLOCATION_SERIES, CONTAINER, NODE, POD, POD_EGRESS
from etl.metroculus.usage import USAGE_QUERIES

GAUGE = "gauge"
COUNTER = "counter"
VECTOR = "vector"
MATRIX = "matrix"
DEFAULT_STEP_S = 60
# The longest run of missed scrapes an entity is assumed to have lived (and kept its
# price) through; at least two scrape intervals.
SCRAPE_GAP_TOLERANCE_S = 900
PART = "k8scost_part"
FAMILY = "k8scost_family"


def gap_s(step_s: int) -> int:
    """The scrape-gap tolerance at scrape interval `step_s`."""
    return max(SCRAPE_GAP_TOLERANCE_S, 2 * step_s)


def bucket_s(step_s: int) -> int:
    """The presence mask's bucket: the smallest multiple of the scrape interval of at
    least an hour that divides the day (an hour at 60 s), so a day has at most 24."""
    size = step_s * -(-3600 // step_s)
    while 86400 % size:
        size += step_s
    return size


@dataclass(frozen=True)
class TenantDayQuery:
    """A named PromQL template, evaluated at the day's `evaluated` instant.

    `{sel}` becomes the tenant's label matcher (`{sel,x="y"}` the tenant's and more),
    `{step}` the scrape interval R, `{window}` R - 1 ms (one step's samples), `{gap}`
    the gap tolerance; `{full}` reaches back to (D - R) for the samples the first
    step sees, `{at_start}`/`{at_last}` are the offsets of the day's first and last
    step, `{raw}` covers what `held.held` needs, `{bucket}`/`{bucket_shift}`/
    `{bucket_step}` the presence mask's windows. With `labels`, its rows are an
    answer of that name (etl/core/answers.py); without, a family's raw figures
    that etl/metroculus/extract.py turns into answers. `kind` is `matrix` for a range
    selector (raw samples). `shard_by` is the label that keys its rows (every series
    and duplicate of one row share its value; by default the first of `SHARD_LABELS`
    among `labels`, none for a query that aggregates across entities): over the
    engine's sample limit it is sent in parts by that label (etl/metroculus/split.py).
    """

    name: str
    template: str
    labels: tuple[str, ...] = ()
    evaluated: str = GAUGE
    label_map: bool = False
    kind: str = VECTOR
    shard_by: str | None = None

    def render(self, tenant: str, step_s: int = DEFAULT_STEP_S, shard: str = "") -> str:
        """The query for `tenant` at scrape interval `step_s`; with `shard` (a label
        matcher), for the series that matcher selects only."""
        return render(self.template, tenant, step_s, shard)

    def shard_label(self) -> str:
        """The label it can be split by ('' if none)."""
        if self.shard_by is not None:
            return self.shard_by
        return next((label for label in SHARD_LABELS if label in self.labels), "")


# Entity labels, the most specific first: a query keyed by one of them can be sent in
# parts by that label's values and its rows concatenated, exactly.
SHARD_LABELS = ("pod", "pod_name", "node", "replicaset", "service", "namespace")


def render(template: str, tenant: str, step_s: int = DEFAULT_STEP_S, shard: str = "") -> str:
    """Fill a template's placeholders (see `TenantDayQuery`)."""
    matcher = tenant_selector(tenant)
    if shard:
        matcher = f"{matcher.removesuffix('}')},{shard}}}"
    bucket = bucket_s(step_s)
    shift = f" offset -{bucket - step_s}s" if bucket > step_s else ""
    return (
        template.replace("{sel}", matcher)
        .replace("{sel,", matcher.removesuffix("}") + ",")
        .replace("{step}", f"{step_s}s")
        .replace("{window}", f"{step_s * 1000 - 1}ms")
        .replace("{gap}", f"{gap_s(step_s)}s")
        .replace("{full}", f"{(86400 + step_s) * 1000 - 2}ms")
        .replace("{at_start}", "86399999ms")
        .replace("{at_last}", f"{step_s * 1000 - 1}ms")
        .replace("{raw}", f"{86400 + 2 * step_s + gap_s(step_s)}s")
        .replace("{bucket}", f"{bucket * 1000 - 1}ms")
        .replace("{bucket_shift}", shift)
        .replace("{bucket_step}", f"{bucket}s")
        .replace("{bucket_size}", str(bucket))
    )


def part(name: str, expression: str, family: str = "") -> str:
    """`expression` labelled `k8scost_part="name"` (and `k8scost_family`), so that the
    parts of one query stay apart when joined with `or`."""
    labelled = f'label_replace({expression}, "{PART}", "{name}", "", "")'
    return f'label_replace({labelled}, "{FAMILY}", "{family}", "", "")' if family else labelled


def _per(name: str, labels: tuple[str, ...], function: str, metric: str) -> TenantDayQuery:
    """`max by (labels) (function(metric{tenant}[1d]))`: one deduplicated row per entity."""
    return TenantDayQuery(
        name, f"max by ({', '.join(labels)}) ({function}({metric}{{sel}}[1d]))", labels
    )


EXTRA_LABELS = "instance, job, prometheus_replica, receive_replica"


def _labels(name: str, labels: tuple[str, ...], metric: str) -> TenantDayQuery:
    """Every label set of a `kube_*` info series over the day, duplicates merged."""
    return TenantDayQuery(
        name,
        f"max without ({EXTRA_LABELS}) (max_over_time({metric}{{sel}}[1d]))",
        labels,
        label_map=True,
    )


# Node families, settled per raw series by four figures (`held.simple_held`) or by their
# raw samples. Capacity: kube-state-metrics v1 (and OpenCost's own emitter) name a family
# per resource; kube-state-metrics v2 has one family with `resource` and `unit`.
NODE_FAMILIES = (
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_gpu_hourly_cost",
    "node_gpu_count",
    "kube_node_status_capacity_cpu_cores",
    "kube_node_status_capacity_memory_bytes",
    "kube_node_status_capacity",
)
NODE_FIGURES = {
    "count": "count_over_time({m}{{sel}}[{{full}}])",
    "changes": "changes({m}{{sel}}[{{full}}])",
    "start": "last_over_time({m}{{sel}}[{{window}}] offset {{at_start}})",
    "end": "last_over_time({m}{{sel}}[{{window}}] offset {{at_last}})",
}
NODE_SUMMARY = TenantDayQuery(
    "node_summary",
    " or ".join(
        part(figure, template.format(m=metric), metric)
        for metric in NODE_FAMILIES
        for figure, template in NODE_FIGURES.items()
    ),
    shard_by="node",
)
# PVs, claims, load balancers, the management fee: raw samples (few series).
SMALL_FAMILIES = (
    "pv_hourly_cost",
    "kube_persistentvolume_capacity_bytes",
    "pod_pvc_allocation",
    "kubecost_load_balancer_cost",
    "kubecost_cluster_management_cost",
)
SMALL_SAMPLES = TenantDayQuery(
    "small_family_samples",
    f'{{sel,__name__=~"{"|".join(SMALL_FAMILIES)}"}}[{{raw}}]',
    kind=MATRIX,
)


@dataclass(frozen=True)
class LifeFamily:
    """A large family whose series' lives (first and last seen step) the allocation needs.

    `seen` is 1 for a series with a qualifying sample in a window (`{s}` is the selector,
    `{w}` the window, `{o}` its offset), 0 or absent otherwise; `step_seen` is a step's
    instant where it is seen in `(t - R, t]`, absent otherwise; `keys` merge duplicates;
    `name_label` selects the series whose boundary is found step by step (lives.py).
    """

    name: str
    metric: str
    keys: tuple[str, ...]
    name_label: str
    seen: str
    step_seen: str

    def present(self, window: str, offset: str = "", matcher: str = "") -> str:
        """Per series: 1 when it is seen somewhere in `window` (ending `offset` back)."""
        selector = f"{self.metric}{{sel,{matcher}}}" if matcher else f"{self.metric}{{sel}}"
        return self.seen.format(s=selector, w=window, o=offset)

    def summary(self, matcher: str = "") -> TenantDayQuery:
        """Mask, seen at the first step, seen at the last step (of the series `matcher`
        selects besides the tenant's, or all)."""
        mask = (
            f"sum_over_time(({self.present('{bucket}', '{bucket_shift}', matcher)}"
            " * 2 ^ (time() % 86400 / {bucket_size}))[1d:{bucket_step}])"
        )
        parts = [
            part("mask", mask),
            part("start", self.present("{window}", " offset {at_start}", matcher)),
            part("end", self.present("{window}", " offset {at_last}", matcher)),
        ]
        return TenantDayQuery(f"{self.name}_summary", " or ".join(parts), shard_by=self.name_label)


# Running containers only: kube-state-metrics keeps a completed pod's series (at 0)
# until the pod object is deleted. A presence is 1 or 0 (`bool`), so the mask adds 0
# for a step whose samples all say 0.
RUNNING = LifeFamily(
    "running",
    "kube_pod_container_status_running",
    CONTAINER,
    "pod",
    "(max_over_time({s}[{w}]{o}) == bool 1)",
    "timestamp(max_over_time({s}[{w}]) == 1)",
)
# The life of an allocation series decides two things (etl/costmodel/allocation/pods.py):
# which of two same-named pods it belongs to, and the life of a container KSM does not
# report. So it is found (in rounds 2 and 3) only for the series of a name with several
# series or without a running series: one `max by` read otherwise.
ALLOCATION = LifeFamily(
    "allocation",
    "container_cpu_allocation",
    ALLOCATION_SERIES,
    "pod",
    "present_over_time({s}[{w}]{o})",
    "timestamp(last_over_time({s}[{w}]))",
)

# The network-costs DaemonSet's counter, per series, its older camelCase spelling
# (`sameZone`, `sameRegion`) copied to the current one.
EGRESS = (
    "label_replace(label_replace(increase(kubecost_pod_network_egress_bytes_total{sel}[86400001ms]),"
    ' "same_zone", "$1", "sameZone", "(.+)"), "same_region", "$1", "sameRegion", "(.+)")'
)

QUERIES: tuple[TenantDayQuery, ...] = (
    _per(
        "cluster_info",
        ("id", "name", "provider", "provisioner", "region"),
        "last_over_time",
        "kubecost_cluster_info",
    ),
    TenantDayQuery(
        "network_class_price",
        " or ".join(
            f"label_replace(max(avg_over_time(kubecost_network_{klass}_egress_cost{{sel}}[1d])),"
            f' "class", "{klass}", "", "")'
            for klass in ("zone", "region", "internet")
        ),
        ("class",),
    ),
    TenantDayQuery(
        "pod_network_egress_bytes",
        f"max by ({', '.join(POD_EGRESS)}) ({EGRESS})",
        POD_EGRESS,
        evaluated=COUNTER,
    ),
    NODE_SUMMARY,
    RUNNING.summary(),
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
    _per(
        "container_requests",
        (*CONTAINER, "node", "resource"),
        "avg_over_time",
        "kube_pod_container_resource_requests",
    ),
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
    _labels("node_labels", NODE, "kube_node_labels"),
    SMALL_SAMPLES,
    # Usage (cAdvisor), for efficiency and right-sizing only: etl/metroculus/usage.py.
    *(
        TenantDayQuery(name, template, labels, evaluated)
        for name, labels, template, evaluated in USAGE_QUERIES
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
