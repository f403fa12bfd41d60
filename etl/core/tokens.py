"""Bearer tokens bound to one subject (an organization, a cluster account): their form,
their stored digest and their expiry. No I/O: etl/storage/tokens.py stores them.

Tokens are 256-bit random strings, so a fast SHA-256 is enough to make the stored
value useless to a reader of the database (no password-style stretching needed).
The plain token is shown once, at issue. A token may expire (`expires_at`, Unix
seconds; 0 never): a leaked token that nobody revoked then stops working on its own.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

TOKEN_PREFIX = "k8c_"


def new_token() -> str:
    """A fresh plain token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_expired(document: dict[str, Any], now: float | None = None) -> bool:
    """Whether a token document has passed its expiry (documents without one never do)."""
    expires_at = document.get("expires_at", 0)
    return bool(expires_at) and expires_at <= (time.time() if now is None else now)
