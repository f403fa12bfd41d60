"""The tenant-day lease: one holder at a time, across processes, and a dead holder expires."""

from __future__ import annotations

import multiprocessing
from datetime import date

import pytest

from etl.storage import registry
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
    assert _database(uri)[lease.COLLECTION].count_documents({}) == 0  # all released


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
    db[lease.COLLECTION].insert_one(
        {"_id": lease.lease_id("tenant-a", DAY), "holder": "dead", "expires_at": 0}
    )
    with lease.hold(db, "tenant-a", DAY, wait_s=0):
        holder = db[lease.COLLECTION].find_one({"_id": lease.lease_id("tenant-a", DAY)})
        assert holder["holder"] != "dead"
