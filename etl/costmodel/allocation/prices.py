"""Prices over the day as step functions, and their integrals over lives.

A `*_price_changes` answer has one row per change of an entity's held price (its value
from that instant on), plus one at 00:00 for entities alive then; between changes the
price is constant, so the integral over any interval is exact. This is how a pod pays
a spot node's price at each instant without any per-step work over pods in PromQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (change instants, prices, cumulative price x seconds at each instant)
StepFunction = tuple[np.ndarray, np.ndarray, np.ndarray]
Pieces = dict[str, StepFunction]


def pieces(changes: pd.DataFrame, key: str) -> Pieces:
    """key value -> its step function."""
    found: Pieces = {}
    frame = changes.assign(at=changes["at"].astype(float), price=changes["price"].astype(float))
    for value, group in frame.sort_values("at").groupby(key, sort=False):
        at, price = group["at"].to_numpy(), group["price"].to_numpy()
        cumulative = np.concatenate([[0.0], np.cumsum(price[:-1] * np.diff(at))])
        found[value] = (at, price, cumulative)
    return found


def price_at(step_function: StepFunction, t: np.ndarray) -> np.ndarray:
    """The price in force at each instant of `t` (the first price before the first change)."""
    at, price, _ = step_function
    return price[np.clip(np.searchsorted(at, t, side="right") - 1, 0, None)]


def cumulative(step_function: StepFunction, t: np.ndarray) -> np.ndarray:
    """Price x seconds from the first change to each instant of `t`."""
    at, price, totals = step_function
    index = np.clip(np.searchsorted(at, t, side="right") - 1, 0, None)
    return totals[index] + price[index] * (t - at[index])


def price_hours(table: Pieces, keys: pd.Series, start: pd.Series, end: pd.Series) -> np.ndarray:
    """Per row: the integral of its key's price over [start, end), in price x hours.

    NaN for rows whose key has no prices.
    """
    result = np.full(len(keys), np.nan)
    positions = pd.Series(np.arange(len(keys)), index=keys.index)
    for key, rows in positions.groupby(keys.to_numpy()):
        if key in table:
            index = rows.to_numpy()
            lo, hi = start.to_numpy()[index], end.to_numpy()[index]
            result[index] = (cumulative(table[key], hi) - cumulative(table[key], lo)) / 3600
    return result
