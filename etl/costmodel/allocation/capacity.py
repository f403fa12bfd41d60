"""A node's pods are never allocated more than the node has, or more than it costs.

Why: the cost of a cluster is what its assets cost (etl/costmodel/assets.py); the
allocation splits that cost and never adds to it. Real data can ask for more: requests
above allocatable, OpenCost's allocation (max of request and usage) while usage bursts
past the node, a container priced from its request whose allocation series is missing,
a pod whose containers' series overlap. Two rules bring the pods back, per node and
resource (cpu, ram, gpu), both documented in docs/allocation.md:

1. At every instant, the amounts of the containers running on a node add up to at most
   its capacity: where they ask for more, each is scaled by capacity / demand for that
   stretch of time (the same share for all, so the split stays proportional).
2. Over the day, the pods on a node cost at most what the node costs, and hold at most
   its capacity x its hours: a remainder (pods seen while the node's capacity or price
   series were not) is scaled away in proportion.

So idle (the node's cost minus its pods') is never negative, and the rows add up to
the asset view on every component.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# (node, interval starts, interval ends) -> the node's price x hours over each interval
PriceHours = Callable[[str, np.ndarray, np.ndarray], np.ndarray]
# Relative slack under which a sum is taken as equal to its bound (float rounding).
SLACK = 1e-12


def fit_to_capacity(
    frame: pd.DataFrame, amount: str, capacity: pd.Series, price_hours: PriceHours
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rule 1 for one resource: (cost, amount-hours) per container of `frame` (with
    `node`, `start`, `end` and the column `amount`), or None when no node is over its
    `capacity` (per node name) at any instant, the usual case."""
    cost = np.full(len(frame), np.nan)
    hours = np.full(len(frame), np.nan)
    changed = False
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    for node, rows in positions.groupby(frame["node"].to_numpy(), sort=True):
        if node not in capacity.index:
            continue
        index = rows.to_numpy()
        amounts = frame[amount].to_numpy(dtype="float64")[index]
        if amounts.sum() <= capacity[node] * (1 + SLACK):
            continue
        start = frame["start"].to_numpy(dtype="float64")[index]
        end = frame["end"].to_numpy(dtype="float64")[index]
        cuts = np.unique(np.concatenate([start, end]))
        t0, t1 = cuts[:-1], cuts[1:]
        running = (start[:, None] <= t0) & (end[:, None] >= t1)
        demand = amounts @ running
        share = np.minimum(
            1.0, np.divide(capacity[node], demand, out=np.ones_like(demand), where=demand > 0)
        )
        if (share >= 1.0).all():
            continue
        changed = True
        weight = running * share  # containers x intervals: the part of each amount kept
        cost[index] = amounts * (weight @ price_hours(node, t0, t1))
        hours[index] = amounts * (weight @ ((t1 - t0) / 3600))
    return (cost, hours) if changed else None


def cap_to_node(pods: pd.DataFrame, nodes: pd.DataFrame, resources: tuple[str, ...]) -> list[str]:
    """Rule 2, in place on `pods` (one row per pod, with `node`, `{r}_cost` and
    `{r}_amount_hours`); `nodes` is the asset view's (`{r}_cost`, capacity x
    `life_hours` as `{r}_capacity_hours`). Returns what it scaled, as issues."""
    issues = []
    known = nodes.set_index("node")
    for r in resources:
        for column, bound in (
            (f"{r}_cost", f"{r}_cost"),
            (f"{r}_amount_hours", f"{r}_capacity_hours"),
        ):
            allocated = pods.groupby("node")[column].sum()
            limit = known[bound].reindex(allocated.index)
            over = allocated[(limit.notna()) & (allocated > limit * (1 + SLACK) + 1e-15)]
            for node, total in over.items():
                scale = float(limit[node]) / float(total)
                on_node = pods["node"] == node
                pods.loc[on_node, column] = pods.loc[on_node, column] * scale
                if column.endswith("_cost"):
                    issues.append(
                        f"node {node}: its pods were allocated {total:.6f} USD of {r}, more than "
                        f"its {float(limit[node]):.6f} USD over the day: scaled to fit"
                    )
    return issues
