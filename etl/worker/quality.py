"""The quality check after a load: ClickHouse holds exactly what the ledger says was loaded.

Why a separate step: the load reports what it inserted; this reads the day back
the way every reader does (SUM(x * sign) ... HAVING SUM(sign) > 0) and catches
what the insert cannot see: a doubled or negative day from a concurrent writer
outside the lease, a row of another resource left over, a total that is not the
sum of its parts.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from etl.core.config import Settings
from etl.costmodel.assets import COMPONENTS
from etl.storage import registry
from etl.storage.clickhouse import connect
from etl.storage.daystate import day_state
from etl.storage.ledger import find_record
from etl.storage.registry import ClusterAccount, Database
from etl.worker import ledger

RELATIVE_TOLERANCE = 1e-9


class QualityCheckError(RuntimeError):
    """What ClickHouse holds for a tenant-day disagrees with what was loaded."""


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def _single_row(name: str, state: pd.DataFrame, resource_id: str) -> tuple[dict, list[str]]:
    if len(state) != 1 or state.iloc[0]["resource_id"] != resource_id:
        return {}, [f"{name} holds {len(state)} live resources, expected only {resource_id}"]
    row = state.iloc[0].to_dict()
    problems = [] if row["live_rows"] == 1 else [f"{name} has {row['live_rows']} live rows"]
    return row, problems


def day_problems(
    totals: dict[str, float], expense: pd.DataFrame, breakdown: pd.DataFrame, resource_id: str
) -> list[str]:
    """Every way the stored day (live state per resource) differs from the loaded `totals`."""
    stored_expense, problems = _single_row("expenses", expense, resource_id)
    stored_breakdown, more = _single_row("k8s_cost_breakdown", breakdown, resource_id)
    problems += more
    if problems:
        return problems
    stored = {"cost": stored_expense["cost"], **{c: stored_breakdown[c] for c in COMPONENTS}}
    for name, value in stored.items():
        if not math.isfinite(value) or value < 0:
            problems.append(f"{name} is {value}")
        elif not _close(value, totals[name]):
            problems.append(f"{name} is {value}, the load wrote {totals[name]}")
    parts = sum(stored[c] for c in COMPONENTS)
    if not _close(stored["cost"], parts):
        problems.append(f"cost {stored['cost']} is not the sum of its components {parts}")
    return problems


def check_day(settings: Settings, db: Database, account: ClusterAccount, day: date) -> dict:
    """Compare ClickHouse with the ledger; returns the totals. The caller holds the
    tenant-day's lease (the load's, etl/worker/pipeline.py), so no restatement runs
    between the load and its check."""
    record = find_record(db, account.id, day)
    if not record or "totals" not in record:
        raise QualityCheckError(f"tenant {account.id} on {day} has no load to check")
    with connect(settings.clickhouse_dsn) as client:
        expense, breakdown = day_state(client, account.id, day)
    problems = day_problems(
        record["totals"], expense, breakdown, registry.cluster_resource_id(account.id)
    )
    if problems:
        raise QualityCheckError(f"tenant {account.id} on {day}: {'; '.join(problems)}")
    ledger.record_checked(db, account, day)
    return record["totals"]
