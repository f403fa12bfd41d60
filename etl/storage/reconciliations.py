"""The daily reconciliation's record: one MongoDB document per tenant-day.

`k8s_reconciliations`, replaced by a rerun; the check itself is the cost model's
(etl/costmodel/allocation/reconcile.py), which does no I/O.
"""

from __future__ import annotations

import time
from datetime import date

from pymongo.database import Database

from etl.core.days import day_start_epoch
from etl.costmodel.allocation.reconcile import Reconciliation
from etl.storage.registry import ClusterAccount

COLLECTION = "k8s_reconciliations"


def record(db: Database, account: ClusterAccount, day: date, check: Reconciliation) -> None:
    """Store the tenant-day's check (one document, replaced by a rerun)."""
    db[COLLECTION].update_one(
        {"_id": f"{account.id}:{day.isoformat()}"},
        {
            "$set": {
                "cloud_account_id": account.id,
                "date": day_start_epoch(day),
                "ok": check.ok,
                "components": check.components,
                "checked_at": int(time.time()),
            }
        },
        upsert=True,
    )
