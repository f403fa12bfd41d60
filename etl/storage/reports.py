"""MongoDB side of the scheduled showback reports: definitions and the versions written.

`showback_reports` holds one document per report definition (`_id`, `organization_id`,
`name`, `scopes`, `group_by`, `period`, `sharing`, `format`, `destination`,
`created_at`; api/showback.py validates and reads them). `showback_report_versions`
holds one document per file written: the report, its period's first day, the version
(1, then one more per restatement), the fingerprint of the ledger state it was made
from, where it went and its total; the newest version of a period is what a run
compares the ledger with to decide whether to write again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pymongo.database import Database

REPORTS = "showback_reports"
VERSIONS = "showback_report_versions"


def add_report(db: Database, organization_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Store a validated definition; its document."""
    document = {
        "_id": str(uuid.uuid4()),
        "organization_id": organization_id,
        **fields,
        "created_at": int(time.time()),
    }
    db[REPORTS].insert_one(document)
    return document


def list_reports(db: Database, organization_id: str | None = None) -> list[dict[str, Any]]:
    """The definitions of one organization (None: every one), oldest first."""
    query = {} if organization_id is None else {"organization_id": organization_id}
    return sorted(db[REPORTS].find(query), key=lambda r: (r["created_at"], r["_id"]))


def get_report(db: Database, organization_id: str, report_id: str) -> dict[str, Any] | None:
    """One definition of the organization, or None."""
    return db[REPORTS].find_one({"_id": report_id, "organization_id": organization_id})


def list_versions(db: Database, report_id: str) -> list[dict[str, Any]]:
    """The versions written of a report, by period then version (without their keys)."""
    found = db[VERSIONS].find({"report_id": report_id})
    return [
        {k: v for k, v in version.items() if k not in ("_id", "report_id", "fingerprint")}
        for version in sorted(found, key=lambda v: (v["period_start"], v["version"]))
    ]


def remove_report(db: Database, organization_id: str, report_id: str) -> bool:
    """Remove a definition (its files and versions stay); False when it was not there."""
    return (
        db[REPORTS].delete_one({"_id": report_id, "organization_id": organization_id}).deleted_count
        == 1
    )


def latest_version(db: Database, report_id: str, period_start: str) -> dict[str, Any] | None:
    """The newest version written of a report's period (ISO first day), or None."""
    found = list(db[VERSIONS].find({"report_id": report_id, "period_start": period_start}))
    return max(found, key=lambda v: v["version"]) if found else None


def record_version(db: Database, document: dict[str, Any]) -> None:
    """Remember a file written (its `_id`: report, period and version, so a rerun that
    writes the same version again replaces the record rather than adding one)."""
    key = f"{document['report_id']}/{document['period_start']}/{document['version']}"
    db[VERSIONS].replace_one({"_id": key}, {"_id": key, **document}, upsert=True)
