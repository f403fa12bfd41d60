"""What the Airflow tasks and `k8scost replay` call: plain functions, tested without Airflow.

Which day a DAG run costs is decided here and only here (`run_day`): the `date`
param when given, else the UTC day of the run's logical date, so that a run whose
logical date is D costs D however it was started.

A tenant-day goes through three steps, each one Airflow task, each recorded in the
ledger (a failure with its stage and error, then re-raised so Airflow retries):
extract, archive, and load (which ends with the quality check, under the same lease).
The steps themselves are etl/worker/pipeline.py's, the ones `k8scost run` chains in
one process; a task gets only a tenant id and archive URIs (XCom), so each function
here looks its account up again.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from etl.core.config import Settings
from etl.core.days import parse_day
from etl.metroculus import samples
from etl.metroculus.promql import PromQLClient
from etl.storage import registry
from etl.storage.registry import Database
from etl.worker import ledger, pipeline
from etl.worker.pipeline import promql_client


def last_complete_day(moment: datetime) -> date:
    """The last UTC day that has ended by `moment`: what a run at that moment is due to cost."""
    return (moment.astimezone(UTC) - timedelta(days=1)).date()


def run_day(
    date_param: str | None,
    logical_date: datetime | None,
    run_after: datetime,
    now: datetime | None = None,
) -> date:
    """The UTC day a `k8s_costs_daily` run costs; every way of starting a run goes through here.

    1. The `date` param when given (the trigger form, `--conf`, the repair DAG).
    2. Else the UTC day of the logical date. A scheduled or backfill run of [D, D+1)
       has logical date D, and so have `airflow dags test k8s_costs_daily D` and a UI
       trigger with logical date D. The data interval is not read on purpose: Airflow
       gives a manual run the last interval complete before its logical date,
       [D-1, D), so reading it re-costs the day before the one asked for.
    3. Else the last day complete at `run_after`, as a scheduled run then would: for a
       run without a logical date (`airflow dags trigger` without `-l`, the REST API
       with `logical_date: null`), and for one whose logical date falls on the UTC day
       it was created (the trigger form's default, "now"; `airflow dags test` without a
       date): that day cannot be costed yet, and an operator who triggers with the
       form's defaults means "cost what is ready", not "fail".

    A later logical date (a day after the run was created) raises FutureDayError: costing
    another day instead would be the silent shift this rule exists to prevent.
    """
    if date_param:
        return parse_day(date_param, now)
    created_on = run_after.astimezone(UTC).date()
    if logical_date is not None and logical_date.astimezone(UTC).date() != created_on:
        day = logical_date.astimezone(UTC).date()
    else:
        day = last_complete_day(run_after)
    return parse_day(day.isoformat(), now)


def _database(settings: Settings) -> Database:
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


def _account(db: Database, tenant_id: str) -> registry.ClusterAccount:
    (account,) = registry.k8s_accounts(db, [tenant_id])
    return account


def tenants_for_run(settings: Settings, tenant_ids: list[str] | None) -> list[dict[str, str]]:
    """The accounts a run maps over, as small XCom-friendly dicts (id and display name)."""
    return [
        {"tenant_id": account.id, "name": account.name}
        for account in registry.k8s_accounts(_database(settings), tenant_ids)
    ]


def extract(settings: Settings, tenant_id: str, day: date, run_id: str) -> str:
    """Query Thanos for the tenant-day and write a new extract; returns its URI."""
    db = _database(settings)
    account = _account(db, tenant_id)
    return pipeline.extract_step(settings, db, account, day, run_id, promql_client(settings))


def archive_extract(settings: Settings, tenant_id: str, day: date, extract_url: str) -> None:
    """Check the extract against its manifest and publish it as the day's current one."""
    db = _database(settings)
    pipeline.archive_step(settings, db, _account(db, tenant_id), day, extract_url)


def load(settings: Settings, tenant_id: str, day: date, extract_url: str) -> dict[str, Any]:
    """Cost the archived extract, restate the day in ClickHouse and check it; returns what
    was loaded."""
    db = _database(settings)
    costs, rows_written, _ = pipeline.load_step(
        settings, db, _account(db, tenant_id), day, extract_url
    )
    return {"cost": costs.total, "rows_written": rows_written}


def replay(settings: Settings, tenant_id: str, day: date) -> tuple[str, dict[str, float]]:
    """Re-cost a tenant-day from its current archived extract, without Thanos.

    Returns (extract URI, totals). Raises ArchiveError when the day was never archived.
    """
    db = _database(settings)
    return pipeline.replay_tenant_day(settings, db, _account(db, tenant_id), day)


def _samples_now(
    settings: Settings, client: PromQLClient, account: registry.ClusterAccount, day: date
) -> int:
    """The tenant-day's completeness measure as Thanos holds it now (etl/metroculus/samples.py)."""
    step_s = pipeline.scrape_interval_s(settings, account)
    return sum(samples.count_source_samples(client, account.id, day, step_s).values())


def find_repairs(
    settings: Settings, last_day: date, window_days: int, now: float | None = None
) -> list[dict[str, Any]]:
    """The tenant-days to re-run, one entry per day: {date, tenants, reasons}.

    Missing, failed or stuck days of [last_day - window_days + 1, last_day], and
    `last_day` itself (normally yesterday) when Thanos now holds more samples for
    it than its last extract saw. A missing tenant-day for which Thanos holds no
    sample is left out: a run could only fail with "no data" (a cluster registered
    mid-window, or days before a demo's simulated history).
    """
    now = time.time() if now is None else now
    db = _database(settings)
    accounts = {account.id: account for account in registry.k8s_accounts(db)}
    tenants = list(accounts)
    first_day = last_day - timedelta(days=window_days - 1)
    client = promql_client(settings)
    gaps = [
        gap
        for gap in ledger.find_gaps(db, tenants, first_day, last_day, now)
        if gap.reason != "missing"
        or _samples_now(settings, client, accounts[gap.tenant_id], gap.day) > 0
    ]
    gapped = {(gap.tenant_id, gap.day) for gap in gaps}
    for (tenant, _), record in ledger.find_records(db, tenants, last_day, last_day).items():
        if (tenant, last_day) in gapped or record["status"] not in ledger.SETTLED:
            continue
        samples_now = _samples_now(settings, client, accounts[tenant], last_day)
        if ledger.has_late_data(record, samples_now):
            gaps.append(ledger.Gap(tenant, last_day, "late_data"))
    by_day: dict[date, dict[str, str]] = {}
    for gap in gaps:
        by_day.setdefault(gap.day, {})[gap.tenant_id] = gap.reason
    return [
        {"date": day.isoformat(), "tenants": sorted(reasons), "reasons": reasons}
        for day, reasons in sorted(by_day.items())
    ]
