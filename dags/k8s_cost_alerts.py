"""Cost alerts after every day's load (wiring only): anomalies, budgets, webhooks.

Scheduled on the Asset that `k8s_costs_daily` emits once every tenant of a day is
loaded and checked, so a run evaluates exactly the tenants and day that were just
loaded, read from the triggering Asset events' extras ({date, tenants}). A manual
run (the trigger form, `airflow dags trigger k8s_cost_alerts --conf '{"date": ...}'`)
takes `date` and `tenants`. The work is `etl.alerts.run` (docs/alerts.md); it is
idempotent, so a rerun or a restated day raises and sends nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import dag, get_current_context, task
from k8scost_airflow.hooks import task_settings
from k8scost_airflow.policy import COSTS_ASSET, DEFAULT_ARGS, START_DATE, day_params

from etl.alerts import run
from etl.core.days import parse_day

log = logging.getLogger(__name__)


@dag(
    dag_id="k8s_cost_alerts",
    schedule=[COSTS_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["k8scost", "alerts"],
    params=day_params(
        "UTC day to evaluate, YYYY-MM-DD; empty = the triggering loads' days",
        "Tenant ids to evaluate; empty = every kubernetes_cnr account",
    ),
)
def k8s_cost_alerts():
    @task
    def evaluate() -> list[dict[str, Any]]:
        context = get_current_context()
        params = context["params"]
        events = context["triggering_asset_events"].get(COSTS_ASSET, [])
        planned = run.days_to_evaluate(
            params["date"], params["tenants"], [event.extra or {} for event in events]
        )
        results = []
        for entry in planned:
            log.info("evaluating %s for %s", entry["date"], entry["tenants"] or "every tenant")
            day = parse_day(entry["date"])
            results.append(run.evaluate(task_settings(), day, entry["tenants"] or None))
        return results

    evaluate()


k8s_cost_alerts()
