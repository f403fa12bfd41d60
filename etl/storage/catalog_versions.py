"""MongoDB side of the catalog stamps: which organizations' documents changed.

Each API process keeps a copy of an organization's accounts and resources (its
catalog, api/catalog/). A process cannot hear another process write, so every write
of `cloud_accounts` or `resources` (etl/storage/registry.py: a bill import, an
account added, a cluster seen) then sets a new stamp for the organization here, and
a process compares its catalog's stamp with the stored one on each request: one
read of one small document by `_id`, and a change is seen by the very next request
of every process, not after a TTL.

The stamp is a fresh random token, not a counter: two writers that race (montydb
updates by read-modify-write) can only leave the stamp of one of them, and each
leaves a value no catalog was built at, so no write is ever hidden. A catalog whose
stamp equals the stored one was read after the last stamp was set, hence after
every write that set a stamp before it.
Collection `catalog_versions`, `_id` the organization id, `version` the token.
"""

from __future__ import annotations

import secrets

from pymongo.database import Database

from etl.storage.montystore import DUPLICATE_KEY_ERRORS

COLLECTION = "catalog_versions"
NEVER_CHANGED = ""  # the stamp of an organization without any recorded change


def catalog_version(db: Database, organization_id: str) -> str:
    """The organization's stamp (NEVER_CHANGED before any change was recorded)."""
    document = db[COLLECTION].find_one({"_id": organization_id})
    return str(document["version"]) if document else NEVER_CHANGED


def catalog_changed(db: Database, organization_id: str) -> None:
    """Record that the organization's accounts or resources changed: a new stamp."""
    change = {"$set": {"version": secrets.token_hex(8)}}
    try:
        db[COLLECTION].update_one({"_id": organization_id}, change, upsert=True)
    except DUPLICATE_KEY_ERRORS:  # another writer created the document first: update it
        db[COLLECTION].update_one({"_id": organization_id}, change)
