"""The PV-days of a cluster-day: what the reconciliation to the bill needs of each PV.

A PV's cost is the exporter's price (`pv_hourly_cost`) times its size, split between
the pods mounting it and its `__unmounted__` row (etl/costmodel/allocation/assetsplit.py).
To price it as the bill prices its disk (docs/api.md, "Reconciliation"), a reader
needs, per PV and day, which disk it was (the series' `provider_id`) and who carries
which part of its cost, so that each part scales by that PV's bill. Stored at load
(sql/schema/011_k8s_pv_days.sql): neither the bill nor the allocation rows keep it.
"""

from __future__ import annotations

import pandas as pd

from etl.costmodel.allocation import VOLUME_PART_COLUMNS
from etl.costmodel.nodedays import provider_ids

PV_DAY_COLUMNS = ["persistentvolume", "provider_id", *VOLUME_PART_COLUMNS[1:]]


def pv_days(
    volume_parts: pd.DataFrame, pv_provider_ids: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """The allocation's PV parts (`Allocation.volume_parts`) with each PV's provider id
    (PV_DAY_COLUMNS; '' for none, or several: flagged), and the issues."""
    ids, issues = provider_ids(pv_provider_ids, "persistentvolume")
    rows = volume_parts.assign(
        provider_id=[ids.get(volume, "") for volume in volume_parts["persistentvolume"]]
    )
    return rows[PV_DAY_COLUMNS].reset_index(drop=True), issues
