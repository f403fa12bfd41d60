"""The one rule every amount of money meets where it enters: finite, and at most MAX_USD.

Why a bound and not only finiteness: 1e308 is finite, yet two such rows sum to
infinity, which JSON cannot carry (the API would answer `Infinity`, not JSON) and
`math.fsum` refuses with an OverflowError. With every row, amount and price at most
MAX_USD in magnitude, a sum of n of them is at most n x MAX_USD: no count of rows a
store can hold comes near the largest double (~1.8e308), so every sum stays finite.
MAX_USD is far above any real bill line (a trillion dollars per row).
"""

from __future__ import annotations

import math

MAX_USD = 1e12
BOUND_TEXT = f"{MAX_USD:.0e} USD".replace("+", "")  # "1e12 USD"


def money_problem(value: float) -> str | None:
    """Why `value` is not an amount of money the platform takes, or None when it is."""
    if not math.isfinite(value):
        return "is not a finite number"
    if abs(value) > MAX_USD:
        return f"is beyond the bound of {BOUND_TEXT} in magnitude"
    return None
