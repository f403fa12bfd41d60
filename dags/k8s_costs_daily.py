"""Daily K8s costs: per cluster tenant, extract -> archive -> load -> check (wiring only).

The run of data interval [D, D+1) processes day D; a manual run may name `date`
(and `tenants`) in the trigger form, and `airflow backfill create` runs a range.
Each tenant is one mapped task group whose map index is the account's name.
Tasks hand each other small dicts with the archive URI of the extract, never
data. The work is in `etl.orchestration`; the policy (retries, timeouts, pool,
Asset) in `plugins/k8scost_airflow/policy.py`.

max_active_runs=3 on purpose: days are independent, and the pool (not the number
of runs) bounds the load on Thanos, so three days in flight keep the pool busy
during a backfill while a manual rerun still starts; more would only pile up
runs waiting for the pool. Two runs of one day are safe (the tenant-day lease).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable
from k8scost_airflow.hooks import task_settings
from k8scost_airflow.policy import (
    COSTS_ASSET,
    DAILY_DAG_ID,
    DEFAULT_ARGS,
    EXTRACT_TIMEOUT,
    LOAD_TIMEOUT,
    PROMQL_POOL,
    START_DATE,
)

from etl import orchestration
from etl.pipeline import NoDataError

# Each per-tenant task names its map index after the account (see _tenant_day).
TENANT_NAME = "{{ tenant_name }}"


def _tenant_day(tenant: dict[str, Any]) -> date:
    """The day of a per-tenant task; also names its map index after the account."""
    get_current_context()["tenant_name"] = tenant["name"]
    return date.fromisoformat(tenant["date"])


@dag(
    dag_id=DAILY_DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=3,
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
        context = get_current_context()
        params = context["params"]
        day = orchestration.resolve_day(params["date"], context.get("data_interval_start"))
        tenants = orchestration.tenants_for_run(task_settings(), params["tenants"] or None)
        return [{**tenant, "date": day.isoformat()} for tenant in tenants]

    @task(pool=PROMQL_POOL, execution_timeout=EXTRACT_TIMEOUT, map_index_template=TENANT_NAME)
    def extract(tenant: dict[str, Any]) -> dict[str, Any]:
        day, run_id = _tenant_day(tenant), get_current_context()["run_id"]
        try:
            url = orchestration.extract(task_settings(), tenant["tenant_id"], day, run_id)
        except NoDataError as error:  # retrying cannot help; the repair DAG watches late data
            raise AirflowFailException(str(error)) from error
        return {**tenant, "extract_url": url}

    @task(map_index_template=TENANT_NAME)
    def archive(tenant: dict[str, Any]) -> dict[str, Any]:
        orchestration.archive_extract(
            task_settings(), tenant["tenant_id"], _tenant_day(tenant), tenant["extract_url"]
        )
        return tenant

    @task(execution_timeout=LOAD_TIMEOUT, map_index_template=TENANT_NAME)
    def load(tenant: dict[str, Any]) -> dict[str, Any]:
        loaded = orchestration.load(
            task_settings(), tenant["tenant_id"], _tenant_day(tenant), tenant["extract_url"]
        )
        return {**tenant, **loaded}

    @task(execution_timeout=LOAD_TIMEOUT, map_index_template=TENANT_NAME)
    def check(tenant: dict[str, Any]) -> dict[str, Any]:
        totals = orchestration.check(task_settings(), tenant["tenant_id"], _tenant_day(tenant))
        return {**tenant, "cost": totals["cost"]}

    @task_group
    def tenant_day(tenant: dict[str, Any]):
        return check(load(archive(extract(tenant))))

    @task(outlets=[COSTS_ASSET])
    def publish(tenants: list[dict[str, Any]]) -> None:
        """Every tenant of the day is loaded and checked: tell downstream DAGs."""
        get_current_context()["outlet_events"][COSTS_ASSET].extra = {
            "date": tenants[0]["date"],
            "tenants": [tenant["tenant_id"] for tenant in tenants],
        }

    tenants = list_tenants()
    tenant_day.expand(tenant=tenants) >> publish(tenants)


k8s_costs_daily()
