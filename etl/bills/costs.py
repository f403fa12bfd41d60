"""The cost metrics' FOCUS columns of a batch: EffectiveCost, ListCost, ContractedCost.

FOCUS 1.0 makes the three mandatory, yet files leave them out (the spec's own
commitment examples have no ContractedCost, some no ListCost) or hold NULLs (the
FinOps Foundation's sample writes the literal `NULL`). A NULL is not 0: an absent
column or a NULL cell takes the row's BilledCost, the one cost every row has,
which is what the charge cost on the invoice. A cell that is not a finite number
is refused like a bad BilledCost, naming line and column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from etl.bills.rows import Problems

# Expense column (etl/core/metrics.py COST_COLUMNS, but `cost`) -> the FOCUS column it holds.
METRIC_SOURCES = {
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
}


def metric_costs(
    frame: pd.DataFrame, billed: pd.Series, problems: Problems, where: Callable[[int], str]
) -> dict[str, np.ndarray]:
    """Each metric column's values for the batch, NULL or absent as `billed`."""
    costs = {}
    for name, column in METRIC_SOURCES.items():
        if column not in frame:
            costs[name] = billed.to_numpy(dtype=float)
            continue
        raw = frame[column]
        value = (
            raw.astype(float)
            if pd.api.types.is_numeric_dtype(raw)
            else pd.to_numeric(raw, errors="coerce")
        )
        bad = raw.notna() & (value.isna() | value.abs().eq(float("inf")))
        problems.flag(bad, column, lambda at, raw=raw: f"{raw.iloc[at]!r} is not a number", where)
        costs[name] = value.where(raw.notna(), billed).to_numpy(dtype=float)
    return costs
