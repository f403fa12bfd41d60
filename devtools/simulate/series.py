"""A simulated series, and what the families of every producer build theirs from.

A `Series` is one entity's labels and values over its life; each producer's module
(costmodel_series.py, kube_series.py, cadvisor_series.py) turns a cluster into its families'
series, and families.py lists them in the order openmetrics.py writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from devtools.simulate.scenario import entity_uid


@dataclass(frozen=True)
class Series:
    """One series of a cluster: its labels and values over the entity's life [start, end).

    A gauge takes each `pieces` value from that instant until the next piece; a counter
    (`rate` set) is `rate * (t - origin)` bytes at tick t, where the origin is `start`,
    or the last of `resets` before t (the counter restarted from zero just after it).
    """

    labels: dict[str, str]
    start: int
    end: int
    pieces: tuple[tuple[int, float], ...] = ()
    rate: float | None = None
    resets: tuple[int, ...] = ()
    # A counter whose rate is piecewise constant, (from, rate) pieces, origin `start`
    # (cAdvisor's cpu seconds, devtools/simulate/usage.py).
    rates: tuple[tuple[int, float], ...] = ()

    def counted(self, t: int) -> float:
        """A `rates` counter's value at t: its rate integrated from `start`."""
        bounds = [at for at, _ in self.rates[1:]] + [t]
        return sum(
            rate * (min(until, t) - at)
            for (at, rate), until in zip(self.rates, bounds, strict=True)
            if at < t
        )


SeriesOf = Callable[[dict[str, Any]], Iterator[Series]]


def label_names(prefix: str, labels: dict[str, str]) -> dict[str, str]:
    """Kubernetes labels as kube-state-metrics spells them: label_<sanitized key>."""
    return {f"{prefix}{re.sub(r'[^a-zA-Z0-9_]', '_', key)}": value for key, value in labels.items()}


def constant(entity: dict[str, Any], labels: dict[str, str], value: float) -> Series:
    return Series(labels, entity["start"], entity["end"], ((entity["start"], value),))


def price_at(pieces: list[list[float]], instant: int) -> float:
    return [price for at, price in pieces if at <= instant][-1]


def service_uid(cluster: dict[str, Any], lb: dict[str, Any]) -> str:
    return entity_uid(cluster["tenant_id"], "service", f"{lb['namespace']}/{lb['service_name']}")
