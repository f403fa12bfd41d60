"""The DAGs' shared policy: retries, timeouts, the PromQL pool, the Asset, in one place.

Why these values:
- retries 3 with exponential backoff from Airflow's `[core] default_task_retry_delay`
  (300 s: 5, 10, 20 min, capped at 30): a Thanos restart or a chdb lock held by a
  long query passes; a broken query fails within the hour instead of hammering.
- every task has an execution timeout, so a hung PromQL or S3 call frees its slot;
  the load's covers the tenant-day lease wait (10 min) plus the load itself.
- the pool bounds how many tenant-days query Thanos at once, across every run of
  every DAG (daily, backfill, manual rerun, repair), whatever `max_active_runs` is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param
from airflow.timetables.trigger import CronTriggerTimetable

# Its size is set where the pool is created: deploy/airflow/pools.json.
PROMQL_POOL = "k8scost_promql"
DAILY_DAG_ID = "k8s_costs_daily"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

DEFAULT_ARGS = {
    "owner": "k8scost",
    "retries": 3,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(minutes=10),
}
EXTRACT_TIMEOUT = timedelta(minutes=30)
LOAD_TIMEOUT = timedelta(minutes=20)

# Emitted once every tenant of a day is loaded and checked; downstream DAGs
# (reports, budget alerts) schedule on it instead of guessing when costs are ready.
COSTS_ASSET = Asset(name="k8s_costs_daily", uri="k8scost://clickhouse/k8s_cost_breakdown")


def day_params(date_description: str, tenants_description: str) -> dict[str, Param]:
    """The `date` and `tenants` params of a DAG that works on one UTC day of some tenants
    (the trigger form's fields: a day, YYYY-MM-DD or empty, and tenant ids, empty = all).

    Both admit null, which is what makes the trigger form show them as optional."""
    return {
        "date": Param(None, type=["null", "string"], format="date", description=date_description),
        "tenants": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            description=tenants_description,
        ),
    }


def daily_at(cron: str, *tags: str) -> dict[str, Any]:
    """The @dag arguments of a DAG run once a day at `cron` (UTC), one run at a time,
    with the team's policy (`DEFAULT_ARGS`) and no catch-up."""
    return {
        "schedule": CronTriggerTimetable(cron, timezone="UTC"),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": DEFAULT_ARGS,
        "tags": ["k8scost", *tags],
    }
