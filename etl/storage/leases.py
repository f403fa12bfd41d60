"""MongoDB `k8s_import_leases`: one document per held tenant-day, `_id` the tenant-day.

The lease's rules (who may take it, heartbeat, takeover of a gone holder) are
etl/worker/lease.py's; this module holds its writes. Each is one document write whose
filter states what the caller expects (free, held by that holder), so that of several
processes racing for a tenant-day one wins: `_id` is unique on MongoDB and on montydb's
SQLite storage, and montydb's filtered writes are serialized (etl/storage/montystore.py).
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from etl.storage.montystore import DUPLICATE_KEY_ERRORS

COLLECTION = "k8s_import_leases"


def find_lease(db: Database, key: str) -> dict[str, Any] | None:
    """The lease `key` as stored (a holder's, live or gone), or None."""
    return db[COLLECTION].find_one({"_id": key})


def insert_lease(db: Database, key: str, fields: dict[str, Any]) -> bool:
    """Take the free lease `key`; False when a document (a holder's) is already there."""
    try:
        db[COLLECTION].insert_one({"_id": key, **fields})
    except DUPLICATE_KEY_ERRORS:
        return False
    return True


def replace_holder(db: Database, key: str, holder: str, fields: dict[str, Any]) -> bool:
    """Set `fields` on the lease `key` if `holder` still holds it; whether it did."""
    return bool(
        db[COLLECTION].update_one({"_id": key, "holder": holder}, {"$set": fields}).modified_count
    )


def release(db: Database, key: str, holder: str) -> bool:
    """Delete the lease `key` if `holder` still holds it; whether it did."""
    return bool(db[COLLECTION].delete_one({"_id": key, "holder": holder}).deleted_count)
