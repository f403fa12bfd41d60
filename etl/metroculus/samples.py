"""The ledger's completeness measure of a tenant-day: raw samples that round 1 already counts.

Late remote-write data shows as more samples later (the repair DAG compares). The measure
is taken from what round 1 reads anyway, so a tenant-day sends no second read of every
sample (`count_over_time` over every family would cost the floor again): the node
families' raw sample counts (`NODE_SUMMARY`'s `count` figure, one per raw series), the
small families' raw samples of the day (their range selector) and the cAdvisor working
set's samples (`container_usage_samples`). Late data comes by the cluster's one
remote-write queue, which lags for every family at once, so these families see it; a
family whose samples alone arrive late is not measured (docs/airflow.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import date

from etl.core.days import day_start_epoch
from etl.metroculus.extract import Result, run_query
from etl.metroculus.promql import PromQLClient, Sample, Series
from etl.metroculus.queries import FAMILY, PART, QUERIES

# The round-1 queries the measure is read from; the repair DAG sends these alone.
COUNTED = ("node_summary", "small_family_samples", "container_usage_samples")
WORKING_SET = "container_memory_working_set_bytes"
# Names the measure, so that a ledger record counted another way is not compared with it.
MEASURE = "round-1 counts"
_METRIC = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{sel[},]")
_NAMES = re.compile(r'__name__=~"([A-Za-z0-9_:|]+)"')


def source_metrics() -> list[str]:
    """The metric names the query set reads, taken from the queries themselves (a
    selector `metric{sel...}`, or a range selector's `__name__=~"a|b"`): the floor's."""
    found = set()
    for query in QUERIES:
        found.update(_METRIC.findall(query.template))
        for names in _NAMES.findall(query.template):
            found.update(names.split("|"))
    return sorted(found)


def source_samples(rounds: Mapping[str, Result], day: date) -> dict[str, int]:
    """Raw samples per metric, from the answers of the `COUNTED` queries."""
    counts: Counter[str] = Counter()
    node_figures: list[Sample] = rounds["node_summary"]
    for sample in node_figures:
        if sample.labels.get(PART) == "count":
            counts[sample.labels[FAMILY]] += int(sample.value)
    lo_ms = day_start_epoch(day) * 1000
    small: list[Series] = rounds["small_family_samples"]
    for series in small:
        in_day = sum(1 for t in series.times if lo_ms <= round(t * 1000) < lo_ms + 86400_000)
        counts[series.labels.get("__name__", "")] += in_day
    usage: list[Sample] = rounds["container_usage_samples"]
    counts[WORKING_SET] += int(sum(sample.value for sample in usage))
    return {metric: count for metric, count in sorted(counts.items()) if count}


def count_source_samples(
    client: PromQLClient, tenant_id: str, day: date, step_s: int
) -> dict[str, int]:
    """The measure as Thanos holds it now: the `COUNTED` queries sent again (the repair DAG)."""
    queries = [query for query in QUERIES if query.name in COUNTED]
    return source_samples(
        {query.name: run_query(client, query, tenant_id, day, step_s) for query in queries}, day
    )
