"""Repair K8s costs: re-run missing, failed or stuck tenant-days, and yesterday's late data.

Every day at 06:00 UTC (after the 00:00 daily run, once late remote writes have
landed) it reads the completeness ledger over a window (default 7 days ending
yesterday) and triggers one `k8s_costs_daily` run per day to redo, with that
day's `date` and `tenants` as params, exactly what an operator would trigger by
hand. Yesterday is also redone when Thanos now holds more samples for it than
its extract saw. The work is in `etl.worker.orchestration.find_repairs` (wiring only);
a tenant-day Thanos holds no sample for is not "missing" there (nothing to cost), and
here a day whose own scheduled or backfill run is still going is left to that run.

max_active_runs=1: two repairs at once would trigger the same days twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from k8scost_airflow.hooks import task_settings
from k8scost_airflow.policy import DAILY_DAG_ID, DEFAULT_ARGS, PROMQL_POOL, START_DATE

from etl.core.days import parse_day
from etl.worker import orchestration

log = logging.getLogger(__name__)


def _being_costed(ti: Any, day: str) -> bool:
    """Whether the day's scheduled or backfill run (logical date D 00:00 UTC) is queued or
    running: it is costing the day now (its tenant-days have no record yet, which reads as
    missing), so a rerun would only do the same work again."""
    midnight = datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC)
    active = ti.get_dr_count(
        dag_id=DAILY_DAG_ID, logical_dates=[midnight], states=["queued", "running"]
    )
    if active:
        log.info("not re-running %s: its %s run is still going", day, DAILY_DAG_ID)
    return bool(active)


@dag(
    dag_id="k8s_costs_repair",
    schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["k8scost", "repair"],
    params={
        "window_days": Param(
            7, type="integer", minimum=1, maximum=92, description="How many days to look back"
        ),
        "last_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last UTC day of the window, YYYY-MM-DD; empty = yesterday",
        ),
    },
)
def k8s_costs_repair():
    @task(pool=PROMQL_POOL)  # the late-data check asks Thanos for sample counts
    def find_days() -> list[dict[str, Any]]:
        context = get_current_context()
        params = context["params"]
        last_day = (
            parse_day(params["last_date"])
            if params["last_date"]
            else orchestration.last_complete_day(context["dag_run"].run_after)
        )
        repairs = [
            repair
            for repair in orchestration.find_repairs(
                task_settings(), last_day, params["window_days"]
            )
            if not _being_costed(context["ti"], repair["date"])
        ]
        for repair in repairs:
            log.info("re-running %s: %s", repair["date"], repair["reasons"])
        return [
            {
                "conf": {"date": repair["date"], "tenants": repair["tenants"]},
                "trigger_run_id": f"repair__{repair['date']}__{context['run_id']}",
            }
            for repair in repairs
        ]

    TriggerDagRunOperator.partial(
        task_id="rerun_day",
        trigger_dag_id=DAILY_DAG_ID,
        logical_date=None,
        map_index_template="{{ task.conf['date'] }}",
    ).expand_kwargs(find_days())


k8s_costs_repair()
