"""Daily K8s costs: for each cluster tenant, cost day D and load it (wiring only).

Run for data interval [D, D+1) processes day D; a manual run may name `date`
(and `tenants`) in the trigger form. The work is in `etl.orchestration`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from etl import orchestration
from etl.config import Settings

DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(minutes=30),
}


@dag(
    dag_id="k8s_costs_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["k8scost", "costs"],
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="UTC day to (re)cost, YYYY-MM-DD; empty = the run's interval",
        ),
        "tenants": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Tenant ids to run; empty = every kubernetes_cnr account",
        ),
    },
)
def k8s_costs_daily():
    @task
    def list_tenants() -> list[dict[str, str]]:
        params = get_current_context()["params"]
        return orchestration.tenants_for_run(Settings.from_env(), params["tenants"] or None)

    @task(map_index_template="{{ task.op_kwargs['tenant']['name'] }}")
    def cost_tenant_day(tenant: dict[str, str]) -> dict:
        context = get_current_context()
        day = orchestration.resolve_day(
            context["params"]["date"], context.get("data_interval_start")
        )
        return orchestration.cost_tenant_day(Settings.from_env(), tenant["tenant_id"], day)

    cost_tenant_day.expand(tenant=list_tenants())


k8s_costs_daily()
