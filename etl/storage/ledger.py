"""MongoDB `k8s_import_ledger`: one record per tenant-day, `_id` `<tenant id>/<ISO day>`.

What a record says and when each status is set is etl/worker/ledger.py's; this module
holds its reads and writes. A record's `history` keeps the last HISTORY_LENGTH outcomes,
oldest first, trimmed by the write that appends one (`$push` with `$slice`), so a record
never grows without bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from pymongo.database import Database

COLLECTION = "k8s_import_ledger"
HISTORY_LENGTH = 20


def record_id(tenant_id: str, day: date) -> str:
    return f"{tenant_id}/{day.isoformat()}"


def _history_push(entry: dict[str, Any]) -> dict[str, Any]:
    """The `$push` that appends `entry` to the history, keeping the last HISTORY_LENGTH."""
    return {"history": {"$each": [entry], "$slice": -HISTORY_LENGTH}}


def upsert_record(
    db: Database,
    key: str,
    identity: dict[str, Any],
    fields: dict[str, Any],
    increment: dict[str, int] | None = None,
    outcome: dict[str, Any] | None = None,
) -> None:
    """Upsert the record `key`: `fields` set, `increment` added, `outcome` appended to its
    history, `identity` set only when the record is created."""
    update: dict[str, Any] = {"$set": fields, "$setOnInsert": identity}
    if increment:
        update["$inc"] = increment
    if outcome:
        update["$push"] = _history_push(outcome)
    db[COLLECTION].update_one({"_id": key}, update, upsert=True)


def update_record_if(
    db: Database,
    key: str,
    expected: dict[str, Any],
    fields: dict[str, Any],
    outcome: dict[str, Any],
) -> bool:
    """Set `fields` and append `outcome` to the record `key` only while it holds `expected`
    (one filtered write, so a run that changed it meanwhile keeps its own); whether it did."""
    updated = db[COLLECTION].update_one(
        {"_id": key, **expected}, {"$set": fields, "$push": _history_push(outcome)}
    )
    return bool(updated.modified_count)


def find_record(db: Database, tenant_id: str, day: date) -> dict[str, Any] | None:
    """The tenant-day's record, or None."""
    return db[COLLECTION].find_one({"_id": record_id(tenant_id, day)})


def find_records(
    db: Database,
    tenant_ids: Iterable[str],
    first_day: date,
    last_day: date,
    organization_id: str | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The records of these tenants over [first_day, last_day], by (tenant id, ISO date);
    `organization_id`, when given, is the tenants' organization.

    Found by the organization (when given) and the period, the tenants checked here:
    the period bounds what is read as the ledger's history grows, and montydb matches
    `$in` by comparing a record with each listed id in turn (with `$in`, a month of an
    organization's thousand clusters, the health page's k8s_import_status, cost a
    thousand comparisons per record: docs/dashboard.md, "Performance")."""
    wanted = set(tenant_ids)
    first, last = first_day.isoformat(), last_day.isoformat()
    period = {"date": {"$gte": first, "$lte": last}}
    found = db[COLLECTION].find(
        {"organization_id": organization_id, **period} if organization_id else period
    )
    return {
        (record["cloud_account_id"], record["date"]): record
        for record in found
        if record["cloud_account_id"] in wanted
    }
