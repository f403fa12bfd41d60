"""A per-tenant-day lease in MongoDB, so that one tenant-day is restated by one run at a time.

Why: a restatement reads what the day holds, then inserts cancel rows for it.
Two at once (a backfill and a manual rerun) would both cancel the same rows and
the day's cost would go negative. The embedded chdb lock cannot help (it is per
process and absent on a ClickHouse server), so the lease lives in MongoDB, which
every run already shares: a document whose `_id` is the tenant-day. Inserting it
is the acquisition (`_id` is unique on MongoDB and on montydb's SQLite storage);
deleting it is the release. A holder that died leaves a lease that expires after
`ttl_s`, which is longer than any task's execution timeout.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from pymongo.database import Database

from etl.storage.montystore import DUPLICATE_KEY_ERRORS

log = logging.getLogger(__name__)

COLLECTION = "k8s_import_leases"
LEASE_TTL_S = 3600
LEASE_WAIT_S = 600
POLL_S = 0.5


class TenantDayBusyError(RuntimeError):
    """Another run held the tenant-day for longer than we were willing to wait."""


def lease_id(tenant_id: str, day: date) -> str:
    return f"{tenant_id}/{day.isoformat()}"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _try_acquire(db: Database, key: str, holder: str, ttl_s: float) -> bool:
    now = time.time()
    try:
        db[COLLECTION].insert_one(
            {"_id": key, "holder": holder, "acquired_at": now, "expires_at": now + ttl_s}
        )
        return True
    except DUPLICATE_KEY_ERRORS:
        pass
    # Take over a lease whose holder died; the filter makes it one conditional write.
    taken = db[COLLECTION].update_one(
        {"_id": key, "expires_at": {"$lt": now}},
        {"$set": {"holder": holder, "acquired_at": now, "expires_at": now + ttl_s}},
    )
    if taken.modified_count:
        log.warning("took over the expired lease of %s", key)
    return bool(taken.modified_count)


@contextmanager
def hold(
    db: Database,
    tenant_id: str,
    day: date,
    ttl_s: float = LEASE_TTL_S,
    wait_s: float = LEASE_WAIT_S,
) -> Iterator[None]:
    """Hold the tenant-day's lease for the block; waits up to `wait_s` for another holder."""
    key, holder = lease_id(tenant_id, day), _holder()
    deadline = time.monotonic() + wait_s
    while not _try_acquire(db, key, holder, ttl_s):
        if time.monotonic() >= deadline:
            current = db[COLLECTION].find_one({"_id": key}) or {}
            raise TenantDayBusyError(
                f"tenant {tenant_id} on {day} is being loaded by {current.get('holder')}; "
                f"waited {wait_s:.0f}s"
            )
        time.sleep(POLL_S)
    try:
        yield
    finally:
        db[COLLECTION].delete_one({"_id": key, "holder": holder})
