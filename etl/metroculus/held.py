"""Held values over the day's steps, computed from raw samples exactly as PromQL would.

Why here and not in PromQL: the per-step definitions of the query set (a step is *seen*
when a sample falls in `(t - R, t]`; a value is *held* from the last sample within the
gap tolerance; an entity lives until its last seen step; a price *changes* where the
held value differs from the one a step before) cost a `[1d:R]` subquery per family, and
PromQL evaluates a subquery step by step. The entities that need them (nodes whose
price moved, a node that came or went during the day, the handful of PVs, claims,
load balancers and provisioners) are few, so their raw samples are fetched once (one
range selector) and the same definitions are applied here, on integer milliseconds so
that no float rounding moves a sample across a window's edge. Entities whose series
have one sample per scrape interval all day at one value skip this: see `simple_held`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from etl.metroculus.promql import Series


@dataclass(frozen=True)
class Held:
    """One entity's day, from its raw series (duplicates merged with max, as `max by`)."""

    price_sum: float  # sum over the day's steps of the held value while it lives
    steps: int  # steps at which it has a held value while it lives
    first_seen: float | None  # first and last step (Unix s) with a sample in (t - R, t]
    last_seen: float | None
    average: float | None  # max over its series of avg_over_time(x[1d])
    changes: list[tuple[float, float]]  # (instant, new held value) events, one at 00:00


def _ms(times: Sequence[float]) -> np.ndarray:
    return np.round(np.asarray(times, dtype=float) * 1000).astype(np.int64)


def held(series: Iterable[Series], day_start_s: int, step_s: int, gap_s: int) -> Held:
    """The `Held` of one entity (all its raw series) over the day starting at `day_start_s`.

    Needs the samples from `day_start_s - 2 * step_s - gap_s` on (the held value two steps
    before midnight decides whether 00:00 is a change).
    """
    step, gap, lo = step_s * 1000, gap_s * 1000, day_start_s * 1000
    n = 86400 // step_s
    steps = lo + step * np.arange(-2, n)  # two steps before the day, then the day's steps
    held_values = np.full(len(steps), np.nan)
    first = last = None
    averages = []
    for one in series:
        times, values = _ms(one.times), np.asarray(one.values, dtype=float)
        upto = np.searchsorted(times, steps, side="right")  # samples <= t
        since = np.searchsorted(times, steps - step + 1, side="left")  # samples >= t - R + 1ms
        seen = steps[2:][(upto > since)[2:]]
        if len(seen):
            first = seen[0] if first is None else min(first, seen[0])
            last = seen[-1] if last is None else max(last, seen[-1])
        index = np.clip(upto - 1, 0, None)
        valid = (upto > 0) & (times[index] >= steps - gap) if len(times) else upto > 0
        mine = np.where(valid, values[index] if len(values) else np.nan, np.nan)
        held_values = np.fmax(held_values, mine)
        in_day = (times >= lo - 1) & (times <= lo + 86400 * 1000 - 1)
        if in_day.any():
            averages.append(float(values[in_day].mean()))
    if last is None:
        return Held(0.0, 0, None, None, max(averages) if averages else None, [])
    price = np.where(steps <= last, held_values, np.nan)
    day = price[2:]
    defined = ~np.isnan(day)
    before = np.where(np.isnan(price[1:-1]), price[:-2], price[1:-1])
    changed = defined & (np.isnan(before) | (day != before))
    changed[0] = defined[0] or changed[0]
    events = [(steps[2 + i] / 1000, float(day[i])) for i in np.flatnonzero(changed)]
    return Held(
        price_sum=float(day[defined].sum()),
        steps=int(defined.sum()),
        first_seen=first / 1000,
        last_seen=last / 1000,
        average=max(averages) if averages else None,
        changes=events,
    )


def simple_held(value: float, day_start_s: int, step_s: int) -> Held:
    """The `Held` of an entity with one sample per scrape interval all day at `value`:
    seen at the day's first and last step, no change, no hole (what `held` would give)."""
    n = 86400 // step_s
    return Held(
        price_sum=value * n,
        steps=n,
        first_seen=float(day_start_s),
        last_seen=float(day_start_s + 86400 - step_s),
        average=value,
        changes=[(float(day_start_s), value)],
    )
