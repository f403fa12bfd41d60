"""Token collections (`api_tokens`, `cluster_tokens`): one document per token, `_id` its
digest, bound to one subject (an organization, a cluster account).

What a token is (its form, its digest, its expiry) is etl/core/tokens.py's, which does
no I/O; this module stores and finds the documents. Only digests are stored, so a
reader of the database holds no usable token; a lookup compares digests in constant time.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from pymongo.database import Database

from etl.core.tokens import digest, is_expired, new_token


def issue(
    db: Database,
    collection: str,
    subject_field: str,
    subject_id: str,
    expires_in_s: int | None = None,
    **extra: Any,
) -> str:
    """Create a token for `subject_id`, store only its digest, return the plain token.

    With `expires_in_s`, the token stops working that many seconds from now.
    """
    token = new_token()
    now = int(time.time())
    db[collection].insert_one(
        {
            "_id": digest(token),
            subject_field: subject_id,
            "created_at": now,
            "expires_at": now + expires_in_s if expires_in_s else 0,
            "revoked_at": 0,
            **extra,
        }
    )
    return token


def lookup(db: Database, collection: str, token: str) -> dict[str, Any] | None:
    """The live (not revoked, not expired) token document for `token`, or None."""
    wanted = digest(token)
    found = db[collection].find_one({"_id": wanted, "revoked_at": 0})
    if found is None or not hmac.compare_digest(found["_id"], wanted) or is_expired(found):
        return None
    return found


def listing(
    db: Database, collection: str, subject_field: str, subject_id: str | None = None
) -> list[dict[str, Any]]:
    """Every token document (of one subject if given), oldest first; digests, never tokens."""
    wanted = {} if subject_id is None else {subject_field: subject_id}
    return sorted(db[collection].find(wanted), key=lambda found: found["created_at"])


def revoke_document(db: Database, collection: str, token_digest: str) -> None:
    """Revoke the token whose digest is `token_digest`."""
    db[collection].update_one({"_id": token_digest}, {"$set": {"revoked_at": int(time.time())}})


def revoke(db: Database, collection: str, subject_field: str, subject_id: str) -> int:
    """Revoke every live token of a subject (rotation = revoke, then issue); returns how many."""
    live = list(db[collection].find({subject_field: subject_id, "revoked_at": 0}, {"_id": 1}))
    for token in live:
        revoke_document(db, collection, token["_id"])
    return len(live)
