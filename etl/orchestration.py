"""What the Airflow tasks call: plain functions, unit-tested without Airflow.

Which day a DAG run processes is decided here and only here: the trigger form's
`date` param when given (a manual rerun), else the start of the run's data
interval (a scheduled or backfill run of interval [D, D+1) processes day D).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from etl import registry
from etl.config import Settings
from etl.days import parse_day
from etl.pipeline import run_tenant_day


def resolve_day(date_param: str | None, data_interval_start: datetime | None) -> date:
    """The UTC day a run processes: the `date` param first, then the data interval start."""
    if date_param:
        return parse_day(date_param)
    if data_interval_start is None:
        raise ValueError("the run has no data interval and no `date` param: which day to cost?")
    return parse_day(data_interval_start.date().isoformat())


def tenants_for_run(settings: Settings, tenant_ids: list[str] | None) -> list[dict[str, str]]:
    """The accounts a run maps over, as small XCom-friendly dicts (id and display name)."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return [
        {"tenant_id": account["_id"], "name": account["name"]}
        for account in registry.k8s_accounts(database, tenant_ids)
    ]


def cost_tenant_day(settings: Settings, tenant_id: str, day: date) -> dict[str, Any]:
    """Run one tenant-day; returns a JSON-able summary for XCom and the task log."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant_id])
    result = run_tenant_day(settings, database, account, day)
    return {
        "tenant_id": result.tenant_id,
        "day": result.day.isoformat(),
        "cost": result.cost,
        "breakdown": result.breakdown,
        "rows_written": result.rows_written,
        "promql_queries": result.promql_queries,
        "issues": result.issues,
    }
