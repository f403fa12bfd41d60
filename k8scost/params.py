"""Option types that keep NaN and infinities out: click's FloatRange lets them through.

`float("nan")` compares false to every bound, so `FloatRange(min=0)` takes `nan` (and
`inf` when there is no upper bound), which would be stored as a budget or a threshold
and come back in every answer. Amounts of money also meet the platform's bound
(etl/core/money.py).
"""

from __future__ import annotations

import math
from typing import Any

import click

from etl.core.money import MAX_USD


class FiniteRange(click.FloatRange):
    """A FloatRange of finite numbers only."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def usd(min_open: bool = False) -> FiniteRange:
    """An amount in USD: from 0 (excluded when `min_open`) up to the money bound."""
    return FiniteRange(min=0, max=MAX_USD, min_open=min_open)
