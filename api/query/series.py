"""k8s_costs' `step`: each group's cost per day, week or month, for the explorer's chart.

Why here and not in the page: a stacked chart must add up to the table beside it, so
the buckets come from the same query as the groups (api/routes/k8s_costs.py
`find_groups`), grouped once more by the row's day (the internal `day` part of the
grouping, sql/include/k8s_costs_grouping.sql). Sharing is spread per cluster-day, so a
group's daily costs add up to its cost over the period, whatever the sharing.
Weeks start on Monday and months on the 1st, in UTC, like the rows' days; the first
and last buckets hold only the period's days. With `limit`, the groups left out are
summed under OTHER, so every bucket still adds up to the period's total per bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from etl.storage.sqlfiles import GROUP_PARTS_SEPARATOR

STEPS = ("day", "week", "month")
# The grouping part (sql/include/k8s_costs_grouping.sql) that keys a row by its day.
DAY_PART = "day"
# The key of what the groups left out by `limit` cost in a bucket.
OTHER = "__other__"


def bucket_start(day: int, step: str) -> int:
    """The Unix second of the midnight UTC starting the `step` that holds `day`."""
    date = datetime.fromtimestamp(day, UTC).date()
    if step == "week":
        date -= timedelta(days=date.weekday())
    elif step == "month":
        date = date.replace(day=1)
    elif step != "day":
        raise ValueError(f"step must be one of {', '.join(STEPS)}: {step!r}")
    return int(datetime(date.year, date.month, date.day, tzinfo=UTC).timestamp())


def by_day(group_by: str) -> str:
    """The grouping whose groups are `group_by`'s split per day."""
    return f"{group_by},{DAY_PART}"


def series(
    day_groups: Iterable[Mapping[str, Any]], step: str, kept: set[str] | None
) -> dict[str, dict[str, float]]:
    """{bucket start: {group key: cost}} from the groups of `by_day(group_by)`; keys not
    in `kept` (None: keep all) add up under OTHER. A pod's restarts under one name (same
    key, other uids) add up under that key."""
    buckets: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for group in day_groups:
        key, day = group["key"].rsplit(GROUP_PARTS_SEPARATOR, 1)
        shown = key if kept is None or key in kept else OTHER
        buckets[str(bucket_start(int(day), step))][shown] += group["cost"]
    return {start: dict(costs) for start, costs in sorted(buckets.items(), key=lambda b: int(b[0]))}
