"""The anomaly rule: a day against the mean of its previous days, per cluster and per
namespace within it (docs/alerts.md). No I/O: run.py reads the frame and stores what
this finds.

Why both thresholds: a percentage alone pages for a $0.40 namespace that became
$0.90; dollars alone page a big cluster for its daily noise. So a scope is anomalous
when its cost is more than `threshold_pct` above the baseline mean AND more than
`min_usd` above it. The baseline is the previous BASELINE_DAYS days on which the
cluster has data (a namespace absent on one of them counts $0 there); with fewer
than MIN_BASELINE_DAYS of them nothing is raised, since a mean of one or two days
says little. The `__idle__` and `__unmounted__` rows are the cluster's, not a
namespace's: they count in the cluster scope only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from etl.alerts import causes

BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3
CLUSTER = "cluster"
NAMESPACE = "namespace"
PSEUDO_NAMESPACES = (causes.IDLE, causes.UNMOUNTED)


@dataclass(frozen=True)
class Anomaly:
    """One anomalous scope of a cluster-day and what caused it."""

    scope: str  # CLUSTER or NAMESPACE
    namespace: str  # "" for the cluster scope
    cost_usd: float
    baseline_usd: float
    change_usd: float
    change_pct: float | None  # None when the baseline is $0 (a new namespace)
    baseline_days: list[date]
    causes: dict[str, Any] = field(default_factory=dict)


def window(day: date) -> tuple[date, date]:
    """The first and last day the rule reads for `day`."""
    return day - timedelta(days=BASELINE_DAYS), day


def baseline_days(frame: pd.DataFrame, day: date) -> list[date]:
    """The previous BASELINE_DAYS days on which the cluster has allocation rows."""
    first, _ = window(day)
    present = set(frame["day"]) if not frame.empty else set()
    return sorted(d for d in present if first <= d < day)


def is_anomalous(cost: float, baseline: float, threshold_pct: float, min_usd: float) -> bool:
    """More than `threshold_pct` percent and more than `min_usd` dollars above the baseline."""
    change = cost - baseline
    return change > min_usd and change > baseline * threshold_pct / 100


def _anomaly(
    frame: pd.DataFrame,
    scope: str,
    namespace: str,
    day: date,
    before: list[date],
    node_types: Mapping[str, str] | None,
) -> Anomaly:
    on_day = frame["day"] == day
    today = float(frame["cost"].to_numpy()[on_day.to_numpy()].sum())
    baseline = float(frame["cost"].to_numpy()[~on_day.to_numpy()].sum()) / len(before)
    change = today - baseline
    return Anomaly(
        scope=scope,
        namespace=namespace,
        cost_usd=today,
        baseline_usd=baseline,
        change_usd=change,
        change_pct=change / baseline * 100 if baseline > 0 else None,
        baseline_days=before,
        causes=causes.contributors(frame, day, before, node_types),
    )


def detect(
    frame: pd.DataFrame,
    day: date,
    threshold_pct: float,
    min_usd: float,
    node_types: Mapping[str, str] | None = None,
) -> list[Anomaly]:
    """The anomalies of one cluster on `day`: the cluster itself, then its namespaces.

    `frame` is the cluster's allocation groups over `window(day)`; `node_types` names
    the nodes' instance types in the causes, where known.
    """
    if frame.empty or day not in set(frame["day"]):
        return []
    before = baseline_days(frame, day)
    if len(before) < MIN_BASELINE_DAYS:
        return []
    frame = frame[frame["day"].isin([*before, day])]
    found = []
    on_day = (frame["day"] == day).to_numpy()
    today = float(frame["cost"].to_numpy()[on_day].sum())
    baseline = float(frame["cost"].to_numpy()[~on_day].sum()) / len(before)
    if is_anomalous(today, baseline, threshold_pct, min_usd):
        found.append(_anomaly(frame, CLUSTER, "", day, before, node_types))
    groups = causes.day_and_baseline(frame, "namespace", day, before)
    for namespace, row in zip(groups.index, groups.itertuples(index=False), strict=True):
        if namespace in PSEUDO_NAMESPACES:
            continue
        if is_anomalous(row.today, row.baseline, threshold_pct, min_usd):
            rows = frame[frame["namespace"] == namespace]
            found.append(_anomaly(rows, NAMESPACE, str(namespace), day, before, node_types))
    return found
