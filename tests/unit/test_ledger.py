"""The completeness ledger on montydb: records, the gap finder, the late-data rule."""

from __future__ import annotations

import subprocess
import time
from datetime import date

import pytest

from etl.metroculus import samples
from etl.metroculus.queries import QUERIES
from etl.storage import leases, registry
from etl.storage import ledger as ledger_store
from etl.worker import lease, ledger

DAY = date(2026, 6, 1)


@pytest.fixture
def db(tmp_path):
    return registry.open_database(f"montydb://{tmp_path / 'mongo'}", "k8scost")


@pytest.fixture
def account(db):
    return registry.add_account(db, "org-1", "cluster-a", "tenant-a")


def record(db, tenant: str = "tenant-a", day: date = DAY) -> dict:
    return db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})


def test_a_run_leaves_one_record_per_tenant_day_with_what_it_did(db, account):
    ledger.start_attempt(db, account, DAY, "run-1")
    assert record(db)["status"] == ledger.RUNNING and record(db)["attempts"] == 1
    manifest = {
        "extracted_at": 5,
        "source": {"samples": 1440},
        "queries": {"node_cpu_cores": {"file": "node_cpu_cores.parquet", "rows": 3}},
    }
    ledger.record_archived(db, account, DAY, "s3://b/x", manifest)
    ledger.record_loaded(db, account, DAY, {"cost": 2.5, "cpu_cost": 2.5}, 2)
    ledger.record_checked(db, account, DAY)
    done = record(db)
    assert done["status"] == ledger.SUCCEEDED and done["stage"] == "check"
    assert done["source"] == {"samples": 1440, "series": {"node_cpu_cores": 3}}
    assert done["totals"] == {"cost": 2.5, "cpu_cost": 2.5} and done["rows"] == 2
    assert (done["cloud_account_id"], done["organization_id"], done["date"]) == (
        "tenant-a",
        "org-1",
        "2026-06-01",
    )
    assert done["extract_url"] == "s3://b/x" and done["run_id"] == "run-1"
    assert db[ledger_store.COLLECTION].count_documents({}) == 1


def test_a_failure_keeps_the_last_good_totals_and_counts_attempts(db, account):
    ledger.start_attempt(db, account, DAY, "run-1")
    ledger.record_loaded(db, account, DAY, {"cost": 2.5}, 2)
    ledger.start_attempt(db, account, DAY, "run-2")
    ledger.record_failed(db, account, DAY, "extract", ConnectionError("thanos down"))
    failed = record(db)
    assert failed["status"] == ledger.FAILED and failed["stage"] == "extract"
    assert failed["last_error"] == "ConnectionError: thanos down"
    assert failed["attempts"] == 2 and failed["totals"] == {"cost": 2.5}


def test_the_finder_reports_missing_failed_and_stuck_days_only(db, account):
    other = registry.add_account(db, "org-1", "cluster-b", "tenant-b")
    days = ledger.days_between(date(2026, 6, 1), date(2026, 6, 3))
    for day in days:
        ledger.record_loaded(db, account, day, {"cost": 1.0}, 2)
    ledger.start_attempt(db, other, days[0], "run-1")
    ledger.record_failed(db, other, days[0], "load", RuntimeError("x"))
    ledger.record_no_data(db, other, days[2], RuntimeError("nothing sent"))
    ledger.start_attempt(db, account, days[1], "run-2")  # a run working on it right now
    started = record(db, "tenant-a", days[1])["updated_at"]
    tenants = ["tenant-a", "tenant-b"]
    gaps = ledger.find_gaps(db, tenants, days[0], days[2], now=started)
    expected = [("tenant-b", days[0], "failed"), ("tenant-b", days[1], "missing")]
    assert [(g.tenant_id, g.day, g.reason) for g in gaps] == expected
    # The same run, silent for longer than any task may take, has died.
    gaps = ledger.find_gaps(db, tenants, days[0], days[2], now=started + ledger.STALE_AFTER_S + 1)
    assert [(g.tenant_id, g.day, g.reason) for g in gaps] == [
        expected[0],
        ("tenant-a", days[1], "stale"),
        expected[1],
    ]


@pytest.mark.parametrize(
    ("status", "seen", "now", "late"),
    [
        (ledger.SUCCEEDED, 100, 100, False),
        (ledger.SUCCEEDED, 100, 120, True),
        (ledger.LOADED, None, 100, True),  # loaded by `k8scost run`: cannot tell, redo
        (ledger.NO_DATA, 0, 5, True),
    ],
)
def test_late_data_is_more_samples_than_the_extract_saw(status, seen, now, late):
    source = {"samples": seen, "measure": samples.MEASURE}
    assert ledger.has_late_data({"status": status, "source": source}, now) is late


def test_a_count_of_another_measure_cannot_tell_so_the_day_is_redone():
    """A record counted before the measure came from round 1 (every family's samples,
    more than today's measure) is not compared with today's count."""
    assert ledger.has_late_data({"source": {"samples": 10**9}}, 100)
    assert not ledger.has_late_data({"source": {"samples": 100, "measure": samples.MEASURE}}, 99)


def test_the_sample_count_covers_every_metric_the_queries_read():
    metrics = samples.source_metrics()
    for query in QUERIES:
        rendered = query.render("t")
        assert any(
            f'{metric}{{tenant_id="t"' in rendered
            or f"|{metric}|" in f"|{rendered}|".replace('"', "|")
            for metric in metrics
        ), query.name


def test_a_check_does_not_overwrite_the_status_of_a_run_that_started_since(db, account):
    ledger.start_attempt(db, account, DAY, "run-1")
    ledger.record_loaded(db, account, DAY, {"cost": 2.5}, 2)
    ledger.start_attempt(db, account, DAY, "run-2")
    ledger.record_checked(db, account, DAY)  # run-1's check, late
    assert record(db)["status"] == ledger.RUNNING and record(db)["run_id"] == "run-2"


def _dead_lease(db, tenant: str, day: date, acquired_at: float) -> dict:
    """The lease a killed load left behind: its holder's pid is gone on this machine."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    document = {
        "_id": lease.lease_id(tenant, day),
        "holder": f"here:{dead.pid}:x",
        "host": "here",
        "pid": dead.pid,
        "pid_space": lease.pid_space(),
        "acquired_at": acquired_at,
        "renewed_at": acquired_at,
        "expires_at": time.time() + 3600,
    }
    db[leases.COLLECTION].insert_one(document)
    return document


def test_a_load_that_takes_a_dead_holders_lease_records_it_abandoned_then_its_own(db, account):
    ledger.start_attempt(db, account, DAY, "run-1")
    dead = _dead_lease(db, "tenant-a", DAY, time.time())
    ledger.start_attempt(db, account, DAY, "run-2")
    with ledger.leased(db, account, DAY):
        assert [entry["status"] for entry in record(db)["history"]] == [ledger.ABANDONED]
        ledger.record_loaded(db, account, DAY, {"cost": 2.5}, 2)
    ledger.record_checked(db, account, DAY)
    done = record(db)
    history = [(entry["status"], entry["stage"]) for entry in done["history"]]
    assert history == [(ledger.ABANDONED, "load"), (ledger.LOADED, "load"),
                       (ledger.SUCCEEDED, "check")]  # fmt: skip
    assert (done["history"][0]["pid"], done["history"][0]["host"]) == (dead["pid"], "here")
    assert done["status"] == ledger.SUCCEEDED and done["attempts"] == 2


def test_the_finder_marks_abandoned_a_running_day_whose_load_died(db, account):
    ledger.start_attempt(db, account, DAY, "run-1")
    started = record(db)["started_at"]
    assert ledger.find_gaps(db, ["tenant-a"], DAY, DAY, now=started) == []
    _dead_lease(db, "tenant-a", DAY, started)
    (gap,) = ledger.find_gaps(db, ["tenant-a"], DAY, DAY, now=started + 1)
    assert gap.reason == "abandoned"
    marked = record(db)
    assert marked["status"] == ledger.ABANDONED
    assert [entry["status"] for entry in marked["history"]] == [ledger.ABANDONED]


def test_a_dead_lease_of_an_earlier_attempt_does_not_abandon_a_new_one(db, account):
    _dead_lease(db, "tenant-a", DAY, time.time() - 60)
    ledger.start_attempt(db, account, DAY, "run-2")  # extracting: not at its load yet
    assert ledger.find_gaps(db, ["tenant-a"], DAY, DAY, now=time.time()) == []
    assert record(db)["status"] == ledger.RUNNING


def test_the_history_keeps_the_last_outcomes(db, account):
    for attempt in range(ledger_store.HISTORY_LENGTH + 3):
        ledger.start_attempt(db, account, DAY, f"run-{attempt}")
        ledger.record_failed(db, account, DAY, "extract", RuntimeError(f"try {attempt}"))
    history = record(db)["history"]
    assert len(history) == ledger_store.HISTORY_LENGTH
    assert [entry["status"] for entry in history] == [ledger.FAILED] * ledger_store.HISTORY_LENGTH
