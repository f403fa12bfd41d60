"""Queries over the engine's sample limit, sent again in parts that combine exactly.

Prometheus refuses a query whose peak of samples in memory passes
`--query.max-samples` (50M by default), and a Thanos store one that would fetch more than
its `--store.limits.request-samples`. The set's range functions hold about one series' day at
a time and its subqueries their steps of every series (far below the default even at
the largest cluster benchmarked: docs/allocation.md#benchmark), so only a cluster far
larger, or an engine with lower limits, meets the limit; then:
- a raw-sample fetch (a range selector) is fetched in 2, 4, 8... consecutive windows of
  time, joined per series;
- any other query in 2, 4, 8... parts of its series, split by the label that keys its
  rows (`TenantDayQuery.shard_label`: pod, node, ...) on the value's last character, so
  every series and duplicate of one row falls in the same part, and the parts' rows,
  concatenated, are the whole answer's.
A query that has no such label (one that aggregates across entities, a few rows) is not
split. The query count of a tenant-day stays fixed below the limit; past it, each
refused query costs its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from etl.metroculus.promql import PromQLClient, PromQLError, Sample, Series
from etl.metroculus.queries import MATRIX, TenantDayQuery

# The engine's answer to a query over its sample limit: Prometheus' and Thanos Query's
# (`--query.max-samples`), and a Thanos store's (`--store.limits.request-samples`,
# pkg/store/bucket.go: "exceeded samples limit").
TOO_MANY_SAMPLES = "too many samples"
STORE_SAMPLES_LIMIT = "exceeded samples limit"
PARTS = (2, 4, 8, 16, 32)
# Last characters of names (pods, nodes: DNS labels), dealt into parts in this order; the
# last part takes every other value (upper case, anything else), so the parts cover all.
NAME_CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyz"


def over_the_limit(error: PromQLError) -> bool:
    """Whether the engine refused the query for its sample limit."""
    return TOO_MANY_SAMPLES in str(error) or STORE_SAMPLES_LIMIT in str(error)


def shard_matchers(label: str, parts: int) -> list[str]:
    """`parts` (at most 36) label matchers that together select every series exactly
    once, by the last character of `label`'s value."""
    count = len(NAME_CHARACTERS)
    named = [NAME_CHARACTERS[i * count // parts : (i + 1) * count // parts] for i in range(parts)]
    matchers = [f'{label}=~".*[{group}]"' for group in named[:-1]]
    return [*matchers, f'{label}!~".*[{"".join(named[:-1])}]"']


@dataclass(frozen=True)
class Refused:
    """A query of the set the engine refused over its sample limit (`error`)."""

    client: PromQLClient
    query: TenantDayQuery
    tenant: str
    at: datetime
    step_s: int
    error: PromQLError

    def text(self, shard: str = "") -> str:
        """The query (for the series `shard` selects)."""
        return self.query.render(self.tenant, self.step_s, shard)

    def instant(self, text: str) -> list[Sample]:
        return self.client.instant(text, self.at, self.tenant)

    def matrix(self, text: str) -> list[Series]:
        return self.client.matrix(text, self.at, self.tenant)


def resend(refused: Refused) -> list[Sample] | list[Series]:
    """The refused query's answer, from its parts (see the module)."""
    return split_matrix(refused) if refused.query.kind == MATRIX else split_series(refused)


def split_series(refused: Refused) -> list[Sample]:
    """An instant query over the limit, in parts of its series."""
    label = refused.query.shard_label()
    if not label:
        name = refused.query.name
        raise PromQLError(f"{refused.error} (not split: {name} has no label to split by)")
    for parts in PARTS:
        try:
            return [
                sample
                for shard in shard_matchers(label, parts)
                for sample in refused.instant(refused.text(shard))
            ]
        except PromQLError as error:
            if not over_the_limit(error):
                raise
    raise PromQLError(f"{refused.error} (and in each of {PARTS[-1]} parts of its series)")


def split_matrix(refused: Refused) -> list[Series]:
    """A raw-sample fetch over the limit, in 2, 4, 8... consecutive windows ending at
    `at`, joined per series. Windows are closed at both ends on Prometheus 2, so a sample
    on a boundary comes twice: kept once.
    """
    selector, window = refused.text().rsplit("[", 1)
    total_ms = round(float(window.rstrip("s]")) * 1000)
    end_ms = round(refused.at.timestamp() * 1000)
    for parts in PARTS:
        width = -(-total_ms // parts)
        joined: dict[tuple, dict[float, float]] = {}
        try:
            for i in range(parts):
                window_end = end_ms - (parts - 1 - i) * width
                text = f"{selector}[{width}ms] @ {window_end / 1000:.3f}"
                for one in refused.matrix(text):
                    points = joined.setdefault(tuple(sorted(one.labels.items())), {})
                    points.update(zip(one.times, one.values, strict=True))
        except PromQLError as error:
            if not over_the_limit(error):
                raise
            continue
        return [
            Series(dict(labels), sorted(points), [points[t] for t in sorted(points)])
            for labels, points in joined.items()
        ]
    raise PromQLError(f"{refused.error} (and in each of {PARTS[-1]} windows of time)")
