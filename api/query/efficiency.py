"""A group's efficiency: what it used of what it requested (OpenCost's definitions).

- `cpu_efficiency` = used core-hours / requested core-hours, `ram_efficiency` the
  same in byte-hours, both over the group's rows that have usage series (a row
  without any is left out of both sides, so a half-measured group is not made to
  look idle or efficient);
- `total_efficiency` = (cpu_efficiency x cpu_cost + ram_efficiency x ram_cost) /
  (cpu_cost + ram_cost), the cost-weighted mean; with one of them unknown, the other.

Unknown is `None` (JSON null), never 0: no usage series, or nothing requested.
The sums come from sql/queries/k8s_costs_groups.sql and k8s_costs_shared.sql.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELDS = ("cpu_efficiency", "ram_efficiency", "total_efficiency")
# The sums a group row carries for them: groups merged later add these, not the ratios.
USAGE_SUMS = ("cpu_used", "cpu_requested_measured", "ram_used", "ram_requested_measured")


def _ratio(used: float | None, requested: float | None) -> float | None:
    if used is None or used != used or not requested:  # NULL, NaN or nothing requested
        return None
    return used / requested


def efficiency(row: Mapping[str, Any], cpu_cost: float, ram_cost: float) -> dict[str, Any]:
    """The three efficiencies of a group row (its used and measured-requested sums)."""
    cpu = _ratio(row["cpu_used"], row["cpu_requested_measured"])
    ram = _ratio(row["ram_used"], row["ram_requested_measured"])
    weighted = [(e, c) for e, c in ((cpu, cpu_cost), (ram, ram_cost)) if e is not None]
    weight = sum(c for _, c in weighted)
    total = sum(e * c for e, c in weighted) / weight if weighted and weight else None
    if total is None and len(weighted) == 1:
        total = weighted[0][0]
    return {"cpu_efficiency": cpu, "ram_efficiency": ram, "total_efficiency": total}
