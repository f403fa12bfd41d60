"""How many raw samples Thanos holds for what the query set reads: the ledger's measure of
a tenant-day's completeness (late remote-write data shows as more samples later)."""

from __future__ import annotations

import re
from datetime import date

from etl.metroculus.promql import PromQLClient
from etl.metroculus.queries import GAUGE, QUERIES, evaluation_time, tenant_selector

_METRIC = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{sel[},]")
_NAMES = re.compile(r'__name__=~"([A-Za-z0-9_:|]+)"')


def source_metrics() -> list[str]:
    """The metric names the query set reads, taken from the queries themselves (a
    selector `metric{sel...}`, or a range selector's `__name__=~"a|b"`)."""
    found = set()
    for query in QUERIES:
        found.update(_METRIC.findall(query.template))
        for names in _NAMES.findall(query.template):
            found.update(names.split("|"))
    return sorted(found)


def count_source_samples(client: PromQLClient, tenant_id: str, day: date) -> dict[str, int]:
    """Raw samples per metric the pipeline reads, as Thanos holds them for the tenant-day.

    One query: a `count_over_time` per metric, each labelled with its name and
    joined with `or` (the counts themselves lose the metric name, so they could
    not be told apart, nor summed, across metrics in one selector).
    """
    selector = tenant_selector(tenant_id)
    query = " or ".join(
        f'label_replace(sum(count_over_time({metric}{selector}[1d])), "metric", "{metric}", "", "")'
        for metric in source_metrics()
    )
    samples = client.instant(query, evaluation_time(day, GAUGE), tenant_id)
    return {sample.labels["metric"]: int(sample.value) for sample in samples}
