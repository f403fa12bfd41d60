"""MongoDB side of the sharing defaults: one document per organization.

An organization that always wants kube-system and monitoring shared, and idle
weighted, stores that once (`k8scost sharing set`); every `k8s_costs` and
`clean_expenses` request starts from it and its parameters override it option by
option. Collection `k8s_sharing_defaults`, `_id` the organization id, the fields of
etl/core/sharing.py's `SharingPolicy` plus `updated_at`. No document: share nothing.
What the options mean and how a request's override them is etl/core/sharing.py's;
this module only reads and writes the document.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pymongo.database import Database

from etl.core.sharing import SharingPolicy, resolve

COLLECTION = "k8s_sharing_defaults"
# The document's own fields, beside the policy's.
BOOKKEEPING = ("_id", "updated_at")


def sharing_defaults(db: Database, organization_id: str) -> SharingPolicy:
    """The organization's stored defaults (the share-nothing policy without any)."""
    document = db[COLLECTION].find_one({"_id": organization_id}) or {}
    return SharingPolicy.of({k: v for k, v in document.items() if k not in BOOKKEEPING})


def set_sharing_defaults(
    db: Database, organization_id: str, options: Mapping[str, Any], reset: bool = False
) -> SharingPolicy:
    """Store the organization's defaults: the current ones with the `options` given
    replaced (all of them from the share-nothing policy when `reset`). Returns what is
    stored."""
    policy = resolve(SharingPolicy() if reset else sharing_defaults(db, organization_id), options)
    db[COLLECTION].update_one(
        {"_id": organization_id},
        {"$set": {**policy.document(), "updated_at": int(time.time())}},
        upsert=True,
    )
    return policy
