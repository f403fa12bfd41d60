"""Float64 sums to the same bits in any order: the rule of `exact_sum`, for Python.

docs/api.md, "Summation: same rows, same bits": the SQL sums every Float64 quantity
with the macro `exact_sum` of sql/include/macros.sql, and a Python sum of what its
queries answer (a total of groups or of buckets) is formed here by the same rule, so
that a total the API adds up from a query's rows comes out to the same double as the
same rows summed in one query. The two constants are the SQL's too: etl/storage/sqlfiles.py
hands them to the templates.

- a value below EXACT_BOUND in magnitude is counted in whole units of 10^-EXACT_SCALE:
  `round(x * 1e12)`, the product rounded to a double, then to the nearest integer,
  ties to even (ClickHouse's `toInt128(round(...))`; Python's `round` of a float);
- the units add up as integers (Python's are unbounded; the SQL's Int128 holds any
  sum of fewer than about 10^11 values below the bound);
- the sum goes back to a double once as ClickHouse's `toFloat64` of the Decimal128
  does it: the integer to the nearest double, then divided by 10^12 (correctly rounded
  while the units are below 2^53, about 9,007 USD; above that, two roundings, which
  tests/unit/test_exact_sum.py checks against the engine);
- a value at or beyond the bound, NaN or infinite is added as a double beside the
  units, in the order given, and the two parts added at the end.
"""

from __future__ import annotations

from collections.abc import Iterable

EXACT_SCALE = 12
EXACT_BOUND_SQL = "1e15"  # a thousand times etl/core/money.py MAX_USD
EXACT_BOUND = float(EXACT_BOUND_SQL)
_UNIT = float(10**EXACT_SCALE)


class ExactSum:
    """An exact sum being formed: add values in any order, read `value` (a float)."""

    __slots__ = ("beyond", "units")

    def __init__(self) -> None:
        self.units = 0
        self.beyond = 0.0

    def add(self, value: float) -> None:
        if abs(value) < EXACT_BOUND:
            self.units += round(value * _UNIT)
        else:  # NaN compares false: beyond, as `NOT (abs(x) < bound)` in the SQL
            self.beyond += value

    @property
    def value(self) -> float:
        return float(self.units) / _UNIT + self.beyond


def exact_sum(values: Iterable[float]) -> float:
    """The values summed by the rule above."""
    total = ExactSum()
    for value in values:
        total.add(value)
    return total.value
