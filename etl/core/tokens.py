"""Bearer tokens bound to one subject (an organization, a cluster account), stored as hashes.

Tokens are 256-bit random strings, so a fast SHA-256 is enough to make the stored
value useless to a reader of the database (no password-style stretching needed);
lookups compare digests in constant time. The plain token is shown once, at issue.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from pymongo.database import Database

TOKEN_PREFIX = "k8c_"


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Database, collection: str, subject_field: str, subject_id: str, **extra: Any) -> str:
    """Create a token for `subject_id`, store only its digest, return the plain token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db[collection].insert_one(
        {
            "_id": digest(token),
            subject_field: subject_id,
            "created_at": int(time.time()),
            "revoked_at": 0,
            **extra,
        }
    )
    return token


def lookup(db: Database, collection: str, token: str) -> dict[str, Any] | None:
    """The live (not revoked) token document for `token`, or None."""
    wanted = digest(token)
    found = db[collection].find_one({"_id": wanted, "revoked_at": 0})
    if found is None or not hmac.compare_digest(found["_id"], wanted):
        return None
    return found


def revoke(db: Database, collection: str, subject_field: str, subject_id: str) -> int:
    """Revoke every live token of a subject (rotation = revoke, then issue); returns how many."""
    live = list(db[collection].find({subject_field: subject_id, "revoked_at": 0}, {"_id": 1}))
    for token in live:
        db[collection].update_one({"_id": token["_id"]}, {"$set": {"revoked_at": int(time.time())}})
    return len(live)
