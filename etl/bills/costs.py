"""The cost metrics' FOCUS columns of a batch: EffectiveCost, ListCost, ContractedCost.

FOCUS 1.0 makes the three mandatory, yet files leave them out (the spec's own
commitment examples have no ContractedCost, some no ListCost) or hold NULLs (the
FinOps Foundation's sample writes the literal `NULL`). A NULL is not 0: an absent
column or a NULL cell takes the row's BilledCost, the one cost every row has,
which is what the charge cost on the invoice (and what FOCUS itself sets the three
to for a charge unrelated to others, such as a credit). A cell that is not a finite
number within the money bound (etl/core/money.py) is refused like a bad BilledCost,
naming line and column.

A commitment's purchase (ChargeCategory Purchase with a CommitmentDiscountId) has a
ListCost and a ContractedCost of its own, yet the usage it covers states its list
and contracted cost too: summed together they count the covered hours twice. FOCUS
says to exclude one or the other when aggregating (specification/columns/listcost.md
and contractedcost.md: the purchases on an accrual basis). The metrics are an
accrual view (EffectiveCost already puts such a purchase at 0), so the purchase's
list and contracted cost are stored as 0; its BilledCost is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from etl.core.money import MAX_USD, money_problem

if TYPE_CHECKING:
    from etl.bills.rows import Problems

# Expense column (etl/core/metrics.py COST_COLUMNS, but `cost`) -> the FOCUS column it holds.
METRIC_SOURCES = {
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
}
# The columns a commitment's purchase does not count in (its covered usage does).
ACCRUAL_ONLY = ("list_cost", "contracted_cost")


def amounts(
    frame: pd.DataFrame, column: str, problems: Problems, where: Callable[[int], str]
) -> pd.Series:
    """A cost column as floats (NaN where null); a cell that is no number, or no amount
    of money (etl/core/money.py), is recorded as a problem."""
    raw = frame[column]
    cost = (
        raw.astype(float)
        if pd.api.types.is_numeric_dtype(raw)
        else pd.to_numeric(raw, errors="coerce")
    )
    unread = raw.notna() & cost.isna()
    problems.flag(unread, column, lambda at: f"{raw.iloc[at]!r} is not a number", where)
    problems.flag(
        cost.notna() & ~cost.abs().le(MAX_USD),
        column,
        lambda at: f"{raw.iloc[at]!r} {money_problem(cost.iloc[at])}",
        where,
    )
    return cost


def metric_costs(
    frame: pd.DataFrame,
    billed: pd.Series,
    commitment_purchase: pd.Series,
    problems: Problems,
    where: Callable[[int], str],
) -> dict[str, np.ndarray]:
    """Each metric column's values for the batch, NULL or absent as `billed`, and the list
    and contracted cost of the rows of `commitment_purchase` 0."""
    costs = {}
    for name, column in METRIC_SOURCES.items():
        if column not in frame:
            costs[name] = billed.to_numpy(dtype=float)
            continue
        value = amounts(frame, column, problems, where)
        costs[name] = value.where(frame[column].notna(), billed).to_numpy(dtype=float)
    purchase = commitment_purchase.to_numpy(dtype=bool)
    for name in ACCRUAL_ONLY:
        costs[name] = np.where(purchase, 0.0, costs[name])
    return costs
