"""MongoDB side of the sharing defaults: one document per organization.

An organization that always wants kube-system and monitoring shared, and idle
weighted, stores that once (`k8scost sharing set`); every `k8s_costs` and
`clean_expenses` request starts from it and its parameters override it option by
option. Collection `k8s_sharing_defaults`, `_id` the organization id, the fields of
etl/core/sharing.py's `SharingPolicy` plus `updated_at`. No document: share nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pymongo.database import Database

from etl.core.sharing import SharingPolicy

COLLECTION = "k8s_sharing_defaults"


def sharing_defaults(db: Database, organization_id: str) -> SharingPolicy:
    """The organization's stored defaults (the share-nothing policy without any)."""
    document = db[COLLECTION].find_one({"_id": organization_id})
    if not document:
        return SharingPolicy()
    options = {k: v for k, v in document.items() if k not in ("_id", "updated_at")}
    return SharingPolicy.of(options)


def set_sharing_defaults(
    db: Database, organization_id: str, options: Mapping[str, Any], reset: bool = False
) -> SharingPolicy:
    """Store the organization's defaults: the current ones with `options` replaced (all
    of them from the share-nothing policy when `reset`). Returns what is stored."""
    base = SharingPolicy() if reset else sharing_defaults(db, organization_id)
    policy = base.overridden(options)
    db[COLLECTION].update_one(
        {"_id": organization_id},
        {"$set": {**policy.document(), "updated_at": int(time.time())}},
        upsert=True,
    )
    return policy
