"""Scheduled showback reports (wiring only): write each due report's period.

Every day at 07:00 UTC (after `k8s_costs_repair` at 06:00 has rerun what it found), it
writes every report (`k8scost reports add`) whose last closed period has all its days
settled in the ledger and has not been written from that ledger state: a first version,
or a new one when a day of the period was restated since. The work is
`api.showback.run_due` (docs/reports.md); a rerun writes nothing twice. A manual run
takes `date`, the day to act as today (empty: the run's logical date, else its run time).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from k8scost_airflow.hooks import task_settings
from k8scost_airflow.policy import daily_at

from api.showback import run_due
from etl.core.days import parse_day

log = logging.getLogger(__name__)


@dag(
    dag_id="k8s_showback_reports",
    **daily_at("0 7 * * *", "reports"),
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="The UTC day to act as today, YYYY-MM-DD; empty = the run's day",
        )
    },
)
def k8s_showback_reports():
    @task
    def write_due() -> list[dict[str, Any]]:
        context = get_current_context()
        date = context["params"]["date"]
        run = context["dag_run"]  # a manual run may have no logical date: its run time then
        today = parse_day(date) if date else (run.logical_date or run.run_after).date()
        written = run_due(task_settings(), today)
        return [
            {"file": m["file"], "version": m["version"], "total": m["totals"]["cost"]}
            for m in written
        ]

    write_due()


k8s_showback_reports()
