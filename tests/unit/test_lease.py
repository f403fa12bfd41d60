"""The tenant-day lease: one holder at a time, across processes; a killed holder on this
machine is taken over at once, one elsewhere after a missed heartbeat."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from datetime import date
from typing import Any

import pytest

from etl.storage import leases, registry
from etl.worker import lease

DAY = date(2026, 6, 1)
WORKERS, ROUNDS = 3, 5


def _database(uri: str):
    return registry.open_database(uri, "k8scost")


def _increment_under_lease(uri: str) -> None:
    """Read-modify-write of one counter: lost updates appear unless the lease excludes."""
    db = _database(uri)
    for _ in range(ROUNDS):
        with lease.hold(db, "tenant-a", DAY, wait_s=60):
            value = db.counters.find_one({"_id": "c"})["value"]
            db.counters.update_one({"_id": "c"}, {"$set": {"value": value + 1}})


def test_holders_in_several_processes_never_overlap(tmp_path):
    uri = f"montydb://{tmp_path / 'mongo'}"
    _database(uri).counters.insert_one({"_id": "c", "value": 0})
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_increment_under_lease, args=(uri,)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    assert _database(uri).counters.find_one({"_id": "c"})["value"] == WORKERS * ROUNDS
    assert _database(uri)[leases.COLLECTION].count_documents({}) == 0  # all released


def test_a_busy_tenant_day_fails_after_the_wait_and_others_are_free(tmp_path):
    db = _database(f"montydb://{tmp_path / 'mongo'}")
    with lease.hold(db, "tenant-a", DAY):
        busy = pytest.raises(lease.TenantDayBusyError, match="tenant-a on 2026-06-01")
        with busy, lease.hold(db, "tenant-a", DAY, wait_s=0):
            pass
        other_day = date(2026, 6, 2)
        with lease.hold(db, "tenant-b", DAY, wait_s=0), lease.hold(db, "tenant-a", other_day):
            pass


def test_the_lease_of_a_dead_holder_is_taken_over_once_expired(tmp_path):
    db = _database(f"montydb://{tmp_path / 'mongo'}")
    db[leases.COLLECTION].insert_one(
        {"_id": lease.lease_id("tenant-a", DAY), "holder": "dead", "expires_at": 0}
    )
    with lease.hold(db, "tenant-a", DAY, wait_s=0):
        holder = db[leases.COLLECTION].find_one({"_id": lease.lease_id("tenant-a", DAY)})
        assert holder["holder"] != "dead"


def _hold_until_killed(uri: str, ready: Any) -> None:
    """Hold tenant-a's lease with a heartbeat too slow to expire during the test."""
    with lease.hold(_database(uri), "tenant-a", DAY, heartbeat_s=3600):
        ready.set()
        time.sleep(3600)


def test_a_killed_holder_on_this_machine_is_taken_over_at_once(tmp_path):
    uri = f"montydb://{tmp_path / 'mongo'}"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_until_killed, args=(uri, ready))
    holder.start()
    assert ready.wait(60)
    db = _database(uri)
    held = lease.current(db, "tenant-a", DAY)
    assert (held["host"], held["pid"]) == (socket.gethostname(), holder.pid)
    assert held["expires_at"] - held["renewed_at"] == 1.5 * 3600
    busy = pytest.raises(lease.TenantDayBusyError, match=f"pid {holder.pid}")
    with busy, lease.hold(db, "tenant-a", DAY, wait_s=0):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    gone = []
    # Its lease has an hour and a half to run; a waiter here sees the pid is gone.
    with lease.hold(db, "tenant-a", DAY, wait_s=0, on_takeover=gone.append):
        assert lease.current(db, "tenant-a", DAY)["pid"] == os.getpid()
    assert [(g["pid"], g["host"]) for g in gone] == [(holder.pid, socket.gethostname())]
    assert lease.current(db, "tenant-a", DAY) is None


def test_a_holder_elsewhere_is_taken_over_after_one_missed_heartbeat(tmp_path):
    db = _database(f"montydb://{tmp_path / 'mongo'}")
    now = time.time()
    elsewhere = {
        "_id": lease.lease_id("tenant-a", DAY),
        "holder": "other-host:1:x",
        "host": "other-host",
        "pid": os.getpid(),  # a live pid here, but of another machine's pid space
        "pid_space": "another-machine",
        "acquired_at": now - 60,
        "renewed_at": now - 1,
        "expires_at": now - 1 + 1.5 * lease.HEARTBEAT_S,
    }
    db[leases.COLLECTION].insert_one(elsewhere)
    busy = pytest.raises(lease.TenantDayBusyError, match="other-host pid")
    with busy, lease.hold(db, "tenant-a", DAY, wait_s=0):
        pass
    # Its next heartbeat did not come: last renewed more than 1.5 heartbeats ago.
    renewed_at = now - 1.5 * lease.HEARTBEAT_S - 1
    db[leases.COLLECTION].update_one(
        {"_id": elsewhere["_id"]},
        {"$set": {"renewed_at": renewed_at, "expires_at": renewed_at + 1.5 * lease.HEARTBEAT_S}},
    )
    gone = []
    with lease.hold(db, "tenant-a", DAY, wait_s=0, on_takeover=gone.append):
        pass
    assert [g["holder"] for g in gone] == ["other-host:1:x"]


def test_the_heartbeat_renews_the_lease_while_the_block_runs(tmp_path):
    db = _database(f"montydb://{tmp_path / 'mongo'}")
    with lease.hold(db, "tenant-a", DAY, heartbeat_s=0.05):
        first = lease.current(db, "tenant-a", DAY)
        renewed = first
        while renewed["renewed_at"] == first["renewed_at"]:
            time.sleep(0.01)
            renewed = lease.current(db, "tenant-a", DAY)
    assert renewed["holder"] == first["holder"]
    assert renewed["expires_at"] == pytest.approx(renewed["renewed_at"] + 1.5 * 0.05)
    assert renewed["acquired_at"] == first["acquired_at"]


def test_a_holder_whose_lease_was_taken_over_is_told_after_its_block(tmp_path):
    db = _database(f"montydb://{tmp_path / 'mongo'}")
    key = lease.lease_id("tenant-a", DAY)
    lost = pytest.raises(lease.LeaseLostError, match="run the day again")
    with lost, lease.hold(db, "tenant-a", DAY):
        # It stalled; another run took the expired lease over.
        db[leases.COLLECTION].update_one({"_id": key}, {"$set": {"holder": "taker"}})
    assert lease.current(db, "tenant-a", DAY)["holder"] == "taker"  # not released by the loser
