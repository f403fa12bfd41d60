"""The usage queries of a tenant-day: cAdvisor's cpu and memory per container.

Kept apart from the cost queries (etl/metroculus/queries.py registers them into
`QUERIES`): they feed efficiency (used over requested, docs/allocation.md) and the
daily quantiles of right-sizing, never a cost. Each is one instant query per
tenant-day answering one row per container name (namespace, pod, container),
whatever the number of pods. cAdvisor's series carry no node and no pod uid
(docs/exporters.md); the pod's own cgroup (`container=""`) and the pause container
(`container="POD"`) are left out. A container restarted within the day has two
series (two cgroup `id`s): `max by (..., id)` first merges HA and duplicate scrapes
of one series, then the series are summed (cpu seconds, the working set's samples
and their sum) or maxed (the quantiles). The cpu counter is one series per cgroup
and `cpu` value: the kubelet serves `cpu="total"`, a standalone cAdvisor with per-cpu
usage on (its default; cgroup v1 nodes) one series per core, `cpu00`, `cpu01`...
(docs/exporters.md [18]): a cgroup's cpu is the sum over its `cpu` values.

- `container_cpu_used_seconds`: the day's core-seconds, `increase` over the day like
  the network counter (evaluated at D+1 00:00 over one day + 1 ms);
- `container_cpu_usage_p95`, `_max`: the 95th percentile and the maximum over the
  day's 5-minute steps of the cores used, each step's `rate` taken over the scrape-gap
  tolerance (15 min, at least two intervals: `{gap}`), per series (one cgroup `id`,
  one replica); a container name's figure is the largest of its series'. Steps of 5
  minutes, not of the scrape interval: a 15-minute rate changes little in a minute.
  Per series, not of the per-step sum over the series: aggregating every container at
  each of the 288 steps cost several times the rates themselves; the largest of the
  quantiles is the conservative combination the recommendations' window already uses
  (docs/allocation.md); and the new series of a restarted container is not added to
  the old one's rate, which outlives it by one window. Per-core series' quantiles are
  summed per cgroup: exact for `total`, never below the cgroup's own quantile else;
- `container_memory_working_set_sum`, `_p95`, `_max`: the day's samples of the working
  set, summed over all the container's cgroups, 95th percentile and maximum (the
  largest of its cgroups');
- `container_usage_samples`: how many working-set samples the day had, all its cgroups
  (what a recommendation is based on). The average working set (an answer) is the sum
  over this count, divided by the transform (etl/metroculus/derive.py): dividing in
  PromQL would read the family once more for a count this query already reads.
"""

from __future__ import annotations

from etl.core.labels import USAGE_CONTAINER

_BY = ", ".join(USAGE_CONTAINER)
_CONTAINERS = 'container!="", container!="POD"'
CPU = f"container_cpu_usage_seconds_total{{sel,{_CONTAINERS}}}"
MEMORY = f"container_memory_working_set_bytes{{sel,{_CONTAINERS}}}"
RATE_STEP = "5m"
_RATES = f"rate({CPU}[{{gap}}])[1d:{RATE_STEP}]"  # per series, every 5 minutes


def _per_cpu_cgroup(expression: str) -> str:
    """`expression` (one value per cpu series) summed over each cgroup's `cpu` values,
    duplicate scrapes of a series merged first."""
    return f"sum by ({_BY}, id) (max by ({_BY}, id, cpu) ({expression}))"


def _memory(function: str) -> str:
    return f"max by ({_BY}) ({function}({MEMORY}[1d]))"


def _per_cgroup(function: str) -> str:
    """`function` of each cgroup's working set (duplicate scrapes merged), summed over
    the container's cgroups: a restarted container's two lives are one container's."""
    return f"sum by ({_BY}) (max by ({_BY}, id) ({function}({MEMORY}[1d])))"


SAMPLES = _per_cgroup("count_over_time")


# (name, label columns, template, evaluated): TenantDayQuery's fields; `counter` is
# evaluated at D+1 00:00 (queries.py COUNTER), `gauge` at its last millisecond.
USAGE_QUERIES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    (
        "container_cpu_used_seconds",
        USAGE_CONTAINER,
        f"sum by ({_BY}) ({_per_cpu_cgroup(f'increase({CPU}[86400001ms])')})",
        "counter",
    ),
    (
        "container_cpu_usage_p95",
        USAGE_CONTAINER,
        f"max by ({_BY}) ({_per_cpu_cgroup(f'quantile_over_time(0.95, {_RATES})')})",
        "gauge",
    ),
    (
        "container_cpu_usage_max",
        USAGE_CONTAINER,
        f"max by ({_BY}) ({_per_cpu_cgroup(f'max_over_time({_RATES})')})",
        "gauge",
    ),
    (
        "container_memory_working_set_sum",
        USAGE_CONTAINER,
        _per_cgroup("sum_over_time"),
        "gauge",
    ),
    (
        "container_memory_working_set_p95",
        USAGE_CONTAINER,
        f"max by ({_BY}) (quantile_over_time(0.95, {MEMORY}[1d]))",
        "gauge",
    ),
    ("container_memory_working_set_max", USAGE_CONTAINER, _memory("max_over_time"), "gauge"),
    ("container_usage_samples", USAGE_CONTAINER, SAMPLES, "gauge"),
)
