"""The daily reconciliation: the allocation rows add up to the cluster's asset cost.

Per component, the asset view (etl/costmodel/assets.py: nodes, PVs, load balancers, egress by
class, the management fee) must equal the sum of the pod rows plus `__idle__` plus
`__unmounted__`. By construction idle and unmounted absorb what pods did not use, so
a difference means pods were costed on something the asset view does not know (a
node without capacity series, egress of a class without a price), or a bug. The
result is stored by the worker (etl/storage/reconciliations.py), and a failed check is
also reported as an issue of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from etl.costmodel.assets import COMPONENTS, DayCosts

ABSOLUTE_TOLERANCE = 1e-6  # USD
RELATIVE_TOLERANCE = 1e-9
PARTS = {"__idle__": "idle", "__unmounted__": "unmounted"}


@dataclass(frozen=True)
class Reconciliation:
    """Per component (and `cost`): asset, pods, idle, unmounted, allocated, difference."""

    ok: bool
    components: dict[str, dict[str, float]]

    def problems(self) -> list[str]:
        """One line per component that does not reconcile."""
        return [
            f"allocation does not reconcile on {name}: the asset view costs "
            f"{part['asset']:.6f} USD, the allocation rows add up to {part['allocated']:.6f}"
            for name, part in self.components.items()
            if not _close(part["asset"], part["allocated"])
        ]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def reconcile(assets: DayCosts, rows: pd.DataFrame) -> Reconciliation:
    """Compare the allocation `rows` (etl.costmodel.allocation.ROW_COLUMNS) with the asset view."""
    part = rows["namespace"].map(PARTS).fillna("pods")
    components = {}
    for name in [*COMPONENTS, "cost"]:
        asset = assets.total if name == "cost" else assets.breakdown[name]
        sums = rows.groupby(part)[name].sum()
        entry = {"asset": float(asset)}
        entry.update({key: float(sums.get(key, 0.0)) for key in ("pods", "idle", "unmounted")})
        entry["allocated"] = entry["pods"] + entry["idle"] + entry["unmounted"]
        entry["difference"] = entry["allocated"] - entry["asset"]
        components[name] = entry
    ok = all(_close(entry["asset"], entry["allocated"]) for entry in components.values())
    return Reconciliation(ok=ok, components=components)
