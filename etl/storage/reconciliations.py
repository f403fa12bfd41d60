"""MongoDB `k8s_reconciliations`: the daily reconciliation's record, one document per
tenant-day (`_id` `<account>:<YYYY-MM-DD>`), replaced by a rerun.

The check itself is the cost model's (etl/costmodel/allocation/reconcile.py), which does
no I/O; the worker stores its outcome here (etl/worker/pipeline.py).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from pymongo.database import Database

from etl.core.days import day_start_epoch

COLLECTION = "k8s_reconciliations"


def record(
    db: Database, cloud_account_id: str, day: date, ok: bool, components: dict[str, Any]
) -> None:
    """Store the tenant-day's check (one document, replaced by a rerun)."""
    db[COLLECTION].update_one(
        {"_id": f"{cloud_account_id}:{day.isoformat()}"},
        {
            "$set": {
                "cloud_account_id": cloud_account_id,
                "date": day_start_epoch(day),
                "ok": ok,
                "components": components,
                "checked_at": int(time.time()),
            }
        },
        upsert=True,
    )
