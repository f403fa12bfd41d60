"""A per-tenant-day lease in MongoDB, so that one tenant-day is restated by one run at a time.

Why: a restatement reads what the day holds, then inserts cancel rows for it.
Two at once (a backfill and a manual rerun) would both cancel the same rows and the
day's cost would go negative. The embedded chdb lock cannot help (it is per process
and absent on a ClickHouse server), so the lease lives in MongoDB, which every run
already shares: a document whose `_id` is the tenant-day (etl/storage/leases.py holds
its writes). Inserting it is the acquisition (`_id` is unique on MongoDB and on montydb's
SQLite storage); deleting it is the release.

Why short, with a heartbeat: a holder that dies (`kill -9`, an OOM kill, a lost node)
cannot release, and a long lease blocked its tenant-day for that long. So the lease
lasts TTL_HEARTBEATS heartbeats and a thread of the holder renews it every HEARTBEAT_S
while the block runs: one missed heartbeat and it has expired. It also names its holder's host
and pid; a waiter in the same pid namespace (same machine, same container) sees at once
that the pid is gone and takes over without waiting for the expiry. Taking over is a
write filtered on the dead holder's token, so of several waiters one wins; the
`on_takeover` callback then tells the ledger that the dead holder's attempt was
abandoned.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from etl.storage.leases import find_lease, insert_lease, release, replace_holder
from etl.storage.registry import Database, database_in_this_thread

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
# A lease lasts this many heartbeats: one missed, with half an interval of slack for a
# busy machine.
TTL_HEARTBEATS = 1.5
LEASE_WAIT_S = 600
POLL_S = 0.5


class TenantDayBusyError(RuntimeError):
    """Another run held the tenant-day for longer than we were willing to wait."""


class LeaseLostError(RuntimeError):
    """The holder stalled past its lease and another run took the tenant-day over."""


def lease_id(tenant_id: str, day: date) -> str:
    return f"{tenant_id}/{day.isoformat()}"


def current(db: Database, tenant_id: str, day: date) -> dict[str, Any] | None:
    """The tenant-day's lease as stored (a holder's, live or gone), or None."""
    return find_lease(db, lease_id(tenant_id, day))


@cache
def pid_space() -> str | None:
    """Where a pid means the same process: the kernel's boot and our pid namespace, or None
    where /proc does not say (then only the expiry tells a holder is gone)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of our pid space still runs (a zombie, killed but not yet
    reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    with suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def holder_gone(lease: dict[str, Any], now: float) -> bool:
    """A lease whose holder cannot be working any more: expired, or its pid gone here."""
    if lease["expires_at"] < now:
        return True
    here = pid_space()
    return here is not None and lease.get("pid_space") == here and not pid_alive(lease["pid"])


def _fields(holder: str, now: float, ttl_s: float) -> dict[str, Any]:
    return {
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_space": pid_space(),
        "acquired_at": now,
        "renewed_at": now,
        "expires_at": now + ttl_s,
    }


def _try_acquire(db: Database, key: str, holder: str, ttl_s: float) -> dict[str, Any] | None:
    """Take the lease if it is free or its holder is gone: the lease it replaced (`{}` when
    it was free), or None when another holder has it."""
    now = time.time()
    if insert_lease(db, key, _fields(holder, now, ttl_s)):
        return {}
    current = find_lease(db, key)
    if current is None or not holder_gone(current, now):
        return None
    # One conditional write: of several waiters, the one that replaces this holder wins.
    if not replace_holder(db, key, current["holder"], _fields(holder, now, ttl_s)):
        return None
    log.warning(
        "took over the lease of %s from %s pid %s, which is gone",
        key,
        current.get("host"),
        current.get("pid"),
    )
    return current


class _Heartbeat(threading.Thread):
    """Renews the lease every `interval_s` until stopped, or until it finds it taken over."""

    def __init__(self, db: Database, key: str, holder: str, ttl_s: float, interval_s: float):
        super().__init__(name=f"lease-heartbeat-{key}", daemon=True)
        self.db, self.key, self.holder = db, key, holder
        self.ttl_s, self.interval_s = ttl_s, interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        db = database_in_this_thread(self.db)
        while not self.stopped.wait(self.interval_s):
            now = time.time()
            renewed = replace_holder(
                db, self.key, self.holder, {"renewed_at": now, "expires_at": now + self.ttl_s}
            )
            if not renewed:
                log.error("lost the lease of %s: another run took it over", self.key)
                return


def _ignore(lease: dict[str, Any]) -> None:
    """The default `on_takeover`: nothing to record."""


@contextmanager
def hold(
    db: Database,
    tenant_id: str,
    day: date,
    wait_s: float | None = None,
    heartbeat_s: float = HEARTBEAT_S,
    on_takeover: Callable[[dict[str, Any]], None] = _ignore,
) -> Iterator[None]:
    """Hold the tenant-day's lease for the block, renewed every `heartbeat_s`; waits up to
    `wait_s` (default LEASE_WAIT_S) for a live holder. `on_takeover(dead lease)` runs when
    a gone holder's lease was taken. Raises LeaseLostError after the block if the lease
    was lost meanwhile."""
    wait_s = LEASE_WAIT_S if wait_s is None else wait_s
    key = lease_id(tenant_id, day)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    ttl_s = heartbeat_s * TTL_HEARTBEATS
    deadline = time.monotonic() + wait_s
    while (replaced := _try_acquire(db, key, holder, ttl_s)) is None:
        if time.monotonic() >= deadline:
            current = find_lease(db, key) or {}
            raise TenantDayBusyError(
                f"tenant {tenant_id} on {day} is being loaded by {current.get('host')} "
                f"pid {current.get('pid')}; waited {wait_s:.0f}s"
            )
        time.sleep(POLL_S)
    heartbeat = _Heartbeat(db, key, holder, ttl_s, heartbeat_s)
    heartbeat.start()
    try:
        if replaced:
            on_takeover(replaced)
        yield
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
        released = release(db, key, holder)
    if not released:
        raise LeaseLostError(
            f"tenant {tenant_id} on {day}: this run stalled past its lease and another took "
            "the day over meanwhile; the two may have overlapped: run the day again"
        )
