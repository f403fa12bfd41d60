"""Bearer tokens bound to one subject (an organization, a cluster account), stored as hashes.

Tokens are 256-bit random strings, so a fast SHA-256 is enough to make the stored
value useless to a reader of the database (no password-style stretching needed);
lookups compare digests in constant time. The plain token is shown once, at issue.
A token may expire (`expires_at`, Unix seconds; 0 never): a leaked token that nobody
revoked then stops working on its own.
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
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
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


def is_expired(document: dict[str, Any], now: float | None = None) -> bool:
    """Whether a token document has passed its expiry (documents without one never do)."""
    expires_at = document.get("expires_at", 0)
    return bool(expires_at) and expires_at <= (time.time() if now is None else now)


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


def revoke(db: Database, collection: str, subject_field: str, subject_id: str) -> int:
    """Revoke every live token of a subject (rotation = revoke, then issue); returns how many."""
    live = list(db[collection].find({subject_field: subject_id, "revoked_at": 0}, {"_id": 1}))
    for token in live:
        db[collection].update_one({"_id": token["_id"]}, {"$set": {"revoked_at": int(time.time())}})
    return len(live)
