"""MongoDB side of the clusters' price sheets (docs/pricing.md).

Collection `price_sheets`, one document per cluster: `_id` the cluster's account id,
`rows` (etl/costmodel/pricesheet.py's `SheetRow.document`, in file order), `source`
(the file it was read from) and `updated_at`. A sheet is set whole: storing one
replaces the cluster's previous sheet in one write, so a run never sees half of each.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pymongo.database import Database

COLLECTION = "price_sheets"


def set_sheet(db: Database, cluster_id: str, rows: list[Mapping[str, Any]], source: str) -> None:
    """Store `rows` as the cluster's sheet, replacing the one it had."""
    db[COLLECTION].replace_one(
        {"_id": cluster_id},
        {"_id": cluster_id, "rows": list(rows), "source": source, "updated_at": int(time.time())},
        upsert=True,
    )


def sheet_rows(db: Database, cluster_id: str) -> list[dict[str, Any]]:
    """The cluster's stored rows, in file order (none without a sheet)."""
    document = db[COLLECTION].find_one({"_id": cluster_id}, {"rows": 1})
    return list((document or {}).get("rows", []))


def sheets(db: Database) -> list[dict[str, Any]]:
    """Every stored sheet, by cluster id: `_id`, `rows`, `source`, `updated_at`."""
    return list(db[COLLECTION].find({}).sort("_id", 1))


def unset_sheet(db: Database, cluster_id: str) -> bool:
    """Remove the cluster's sheet; whether it had one."""
    return db[COLLECTION].delete_one({"_id": cluster_id}).deleted_count == 1
