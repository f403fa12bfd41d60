"""The completeness ledger: one MongoDB record per tenant-day, written by every run.

Why: "is every cluster's every day loaded, and loaded from complete data?" must be
answerable without reading Airflow's history (which is pruned, and blind to the
CLI). A record says where the tenant-day stands (`status`, `stage`), what was
loaded (`rows`, `totals`), from what (`source`: the extract's rows per query and
the number of raw samples Thanos held), how hard it was (`attempts`,
`last_error`) and when (`*_at`, Unix seconds).

Statuses: `running` (an attempt is in progress), `loaded` (costed and stored),
`succeeded` (loaded and the quality check agreed with ClickHouse), `failed`,
`no_data` (the tenant sent nothing for the day; the previous data is kept),
`abandoned` (the attempt's process died while it held the tenant-day's lease).
`history` keeps the last outcomes (etl/storage/ledger.py, which stores the records),
oldest first, so an attempt that died and the one that took over both show
(`abandoned`, then `loaded`).

The repair DAG asks this module which days to re-run: days with no record or a
failed, abandoned or stuck one, and yesterday when Thanos now holds more samples than the
load saw (late remote-write data; the measure of etl/metroculus/samples.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from etl.metroculus.samples import MEASURE
from etl.storage.ledger import find_records, record_id, update_record_if, upsert_record
from etl.storage.registry import ClusterAccount, Database
from etl.worker import lease

RUNNING, LOADED, SUCCEEDED, FAILED, NO_DATA = "running", "loaded", "succeeded", "failed", "no_data"
ABANDONED = "abandoned"
STATUSES = (SUCCEEDED, LOADED, RUNNING, FAILED, NO_DATA, ABANDONED)
COMPLETE = frozenset({LOADED, SUCCEEDED})
# Records a run has finished with; late data can still make them out of date.
SETTLED = COMPLETE | {NO_DATA}
# A `running` record untouched this long belongs to a run that died (a killed worker).
STALE_AFTER_S = 6 * 3600
ERROR_CHARS = 2000


def _write(
    db: Database,
    account: ClusterAccount,
    day: date,
    fields: dict[str, Any],
    increment: dict[str, int] | None = None,
    outcome: dict[str, Any] | None = None,
) -> None:
    """Upsert the tenant-day's record: `fields` set, `increment` added, `outcome` (an
    attempt's end) appended to its history, identity on insert."""
    now = int(time.time())
    upsert_record(
        db,
        record_id(account.id, day),
        identity={
            "cloud_account_id": account.id,
            "organization_id": account.organization_id,
            "date": day.isoformat(),
            "created_at": now,
        },
        fields={**fields, "updated_at": now, "account_name": account.name},
        increment=increment,
        outcome={**outcome, "at": now} if outcome else None,
    )


def start_attempt(db: Database, account: ClusterAccount, day: date, run_id: str) -> None:
    """A run starts working on the tenant-day."""
    _write(
        db,
        account,
        day,
        {"status": RUNNING, "stage": "extract", "run_id": run_id, "started_at": int(time.time())},
        increment={"attempts": 1},
    )


def record_archived(
    db: Database, account: ClusterAccount, day: date, extract_url: str, manifest: dict[str, Any]
) -> None:
    """The extract is archived and published; its source figures are the ones to compare."""
    _write(
        db,
        account,
        day,
        {
            "status": RUNNING,
            "stage": "archive",
            "extract_url": extract_url,
            "source": {
                **manifest["source"],
                "series": {name: entry["rows"] for name, entry in manifest["queries"].items()},
            },
            "extracted_at": manifest["extracted_at"],
        },
    )


def record_loaded(
    db: Database,
    account: ClusterAccount,
    day: date,
    totals: dict[str, float],
    rows_written: int,
    issues: Iterable[str] = (),
    quality_failures: Iterable[str] = (),
) -> None:
    """ClickHouse now holds `totals` for the tenant-day (called under its lease).

    `issues` are what looked wrong in the data but was costed anyway (warnings);
    `quality_failures` what loaded yet cannot be right (containers allocated $0).
    Both are replaced by every load, so a fixed day clears them.
    """
    _write(
        db,
        account,
        day,
        {
            "status": LOADED,
            "stage": "load",
            "totals": totals,
            "rows": rows_written,
            "loaded_at": int(time.time()),
            "issues": [issue[:ERROR_CHARS] for issue in issues],
            "quality_failures": [failure[:ERROR_CHARS] for failure in quality_failures],
        },
        outcome={"status": LOADED, "stage": "load"},
    )


def record_checked(db: Database, account: ClusterAccount, day: date) -> None:
    """The quality check found ClickHouse holding exactly what the ledger says was loaded.

    Only a `loaded` record becomes `succeeded`: when another run has started on the
    day meanwhile, its status is its own to set.
    """
    now = int(time.time())
    update_record_if(
        db,
        record_id(account.id, day),
        expected={"status": LOADED},
        fields={"status": SUCCEEDED, "stage": "check", "checked_at": now, "updated_at": now},
        outcome={"status": SUCCEEDED, "stage": "check", "at": now},
    )


def record_failed(
    db: Database, account: ClusterAccount, day: date, stage: str, error: BaseException
) -> None:
    """An attempt failed at `stage`; whatever the day held before is still there."""
    _write(
        db,
        account,
        day,
        {
            "status": FAILED,
            "stage": stage,
            "last_error": f"{type(error).__name__}: {error}"[:ERROR_CHARS],
            "last_error_at": int(time.time()),
        },
        outcome={"status": FAILED, "stage": stage},
    )


def record_no_data(db: Database, account: ClusterAccount, day: date, error: BaseException) -> None:
    """Thanos had no cost metrics for the tenant-day; nothing was loaded or erased."""
    _write(
        db,
        account,
        day,
        {
            "status": NO_DATA,
            "stage": "extract",
            "source": {"samples": 0, "series": {}, "measure": MEASURE},
            "last_error": str(error)[:ERROR_CHARS],
            "last_error_at": int(time.time()),
        },
        outcome={"status": NO_DATA, "stage": "extract"},
    )


def _abandoned_entry(gone: dict[str, Any]) -> dict[str, Any]:
    """The history entry of an attempt whose process died holding the lease `gone`."""
    return {
        "status": ABANDONED,
        "stage": "load",
        "host": gone.get("host"),
        "pid": gone.get("pid"),
        "lease_acquired_at": gone.get("acquired_at"),
    }


def record_abandoned(
    db: Database, account: ClusterAccount, day: date, gone: dict[str, Any]
) -> None:
    """The attempt that held the tenant-day's lease `gone` died; recorded by the run that
    took the lease over, right then. Its status stays the taker's own (`running`)."""
    _write(db, account, day, {}, outcome=_abandoned_entry(gone))


def settle_abandoned(db: Database, records: Iterable[dict[str, Any]], now: float) -> None:
    """Mark `abandoned` the `running` records whose attempt died holding its lease (the
    lease, taken since the attempt started, has a holder that is gone), in the store and
    in `records`.

    What the repair DAG sees of a killed load that no run has taken over yet, instead of
    a `running` record until STALE_AFTER_S.
    """
    for record in records:
        if record["status"] != RUNNING:
            continue
        day = date.fromisoformat(record["date"])
        held = lease.current(db, record["cloud_account_id"], day)
        if held is None or held["acquired_at"] < record.get("started_at", 0):
            continue  # no lease, or an older attempt's: this one has not reached its load
        if not lease.holder_gone(held, now):
            continue
        marked = update_record_if(
            db,
            record["_id"],
            expected={"status": RUNNING, "started_at": record.get("started_at")},
            fields={"status": ABANDONED, "stage": "load", "updated_at": int(now)},
            outcome={**_abandoned_entry(held), "at": int(now)},
        )
        if marked:
            record.update(status=ABANDONED, stage="load")


def leased(db: Database, account: ClusterAccount, day: date) -> AbstractContextManager[None]:
    """The tenant-day's lease (etl/worker/lease.py); taking over a dead holder's lease
    records its attempt `abandoned`."""
    return lease.hold(db, account.id, day, on_takeover=partial(record_abandoned, db, account, day))


def days_between(first_day: date, last_day: date) -> list[date]:
    """Every day of [first_day, last_day]."""
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


@dataclass(frozen=True)
class Gap:
    """A tenant-day to (re-)run, and why."""

    tenant_id: str
    day: date
    reason: str


def gap_reason(record: dict[str, Any] | None, now: float) -> str | None:
    """Why a tenant-day needs a run: no record, a failure, or a run that died (seen dead
    holding its lease, or silent for STALE_AFTER_S); else None."""
    if record is None:
        return "missing"
    if record["status"] == FAILED:
        return "failed"
    if record["status"] == ABANDONED:
        return "abandoned"
    if record["status"] == RUNNING and now - record["updated_at"] > STALE_AFTER_S:
        return "stale"
    return None


def find_gaps(
    db: Database, tenant_ids: list[str], first_day: date, last_day: date, now: float
) -> list[Gap]:
    """Missing, failed, abandoned and stuck tenant-days in the window, oldest day first."""
    records = find_records(db, tenant_ids, first_day, last_day)
    settle_abandoned(db, records.values(), now)
    gaps = []
    for day in days_between(first_day, last_day):
        for tenant in tenant_ids:
            reason = gap_reason(records.get((tenant, day.isoformat())), now)
            if reason:
                gaps.append(Gap(tenant, day, reason))
    return gaps


def has_late_data(record: dict[str, Any], samples_now: int) -> bool:
    """Thanos holds more samples for the day than the last extract saw (late remote writes).

    A record without a sample count of today's measure (written before extracts counted
    them, or counted another way) cannot tell: re-run it.
    """
    source = record.get("source") or {}
    seen = source.get("samples") if source.get("measure") == MEASURE else None
    return seen is None or samples_now > seen
