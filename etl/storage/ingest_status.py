"""Ingest health: when each tenant last wrote, and the time of its newest sample.

One MongoDB document per tenant in `ingest_status`:
`{_id: <cloud account id>, last_sample_at, last_received_at}` (Unix seconds). A cluster
writes every few seconds, so each proxy process updates a tenant's document at most once
per `interval_s` (the figures are that stale at worst) and keeps the newest sample of the
writes in between in memory. `last_sample_at` is the newest sample since the previous
update, not an all-time maximum, so one sample stamped in the future by a skewed clock
does not hide a cluster that went silent afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pymongo.database import Database

COLLECTION = "ingest_status"
LOG = logging.getLogger(__name__)


class IngestRecorder:
    """Throttled writer of `ingest_status`, shared by the threads of one proxy process."""

    def __init__(
        self,
        database: Callable[[], Database],
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        # tenant -> (when its document was last written, newest sample ms since then)
        self._state: dict[str, tuple[float, int | None]] = {}

    def record(self, tenant_id: str, newest_sample_ms: int | None) -> bool:
        """Note a forwarded write; returns whether the tenant's document was written now."""
        now = self._clock()
        with self._lock:
            written_at, pending = self._state.get(tenant_id, (None, None))
            if newest_sample_ms is not None:
                pending = newest_sample_ms if pending is None else max(pending, newest_sample_ms)
            if written_at is not None and now - written_at < self._interval_s:
                self._state[tenant_id] = (written_at, pending)
                return False
            self._state[tenant_id] = (now, None)
        fields: dict[str, Any] = {"last_received_at": int(now)}
        if pending is not None:
            fields["last_sample_at"] = pending // 1000
        try:
            self._database()[COLLECTION].update_one(
                {"_id": tenant_id}, {"$set": fields}, upsert=True
            )
        except Exception:  # any store failure: the write was forwarded, only this is lost
            # Not written, so not throttled: the tenant's next write retries at once and
            # still carries this newest sample (a throttled failure hid a tenant for
            # interval_s; montydb can fail a first concurrent upsert with "no such table").
            with self._lock:
                _, newer = self._state.get(tenant_id, (None, None))
                kept = [sample for sample in (pending, newer) if sample is not None]
                self._state[tenant_id] = (None, max(kept) if kept else None)
            LOG.exception("ingest status of %s not recorded; its next write retries", tenant_id)
            return False
        return True


def read_status(db: Database, tenant_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored ingest status of each tenant that has written at least once."""
    wanted = list(tenant_ids)
    return {doc["_id"]: doc for doc in db[COLLECTION].find({"_id": {"$in": wanted}})}
