"""MongoDB side of the catalog stamps: which organizations' documents changed, and when.

Each API process keeps a copy of an organization's accounts and resources (its
catalog, api/catalog/). A process cannot hear another process write, so every write
of `cloud_accounts` or `resources` (etl/storage/registry.py: a bill import, an
account added, a cluster seen) also increments the organization's stamp here, and a
process compares its catalog's stamp with the stored one on each request: one read
of one small document by `_id`, which is cheap beside the request itself, and a
change is seen by the very next request of every process, not after a TTL.
Collection `catalog_versions`, `_id` the organization id, `version` an integer.
"""

from __future__ import annotations

from pymongo.database import Database

COLLECTION = "catalog_versions"


def catalog_version(db: Database, organization_id: str) -> int:
    """The organization's stamp (0 before any change was recorded)."""
    document = db[COLLECTION].find_one({"_id": organization_id}, {"version": 1})
    return int(document["version"]) if document else 0


def catalog_changed(db: Database, organization_id: str) -> None:
    """Record that the organization's accounts or resources changed."""
    db[COLLECTION].update_one({"_id": organization_id}, {"$inc": {"version": 1}}, upsert=True)
