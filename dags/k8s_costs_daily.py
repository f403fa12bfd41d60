"""Daily K8s costs: per cluster tenant, extract -> archive -> load and check (wiring only).

A run costs the UTC day of its logical date (scheduled, backfill, `airflow dags
test k8s_costs_daily D`, a UI trigger with logical date D), or the `date` param
(and `tenants`) of the trigger form: `etl.worker.orchestration.run_day`, which the first
task logs. Each tenant is one mapped task group whose map index is the account's
name and the day, e.g. `acme-prod 2026-11-12`.
Tasks hand each other small dicts with the archive URI of the extract, never
data, each as one XCom: `multiple_outputs=False`, since Airflow would otherwise infer
from the `dict` return type one more XCom per key, each a request to the API server.
The work is in `etl.worker.orchestration`; the policy (retries, timeouts, pool,
Asset) in `plugins/k8scost_airflow/policy.py`.

max_active_runs=3 on purpose: days are independent, and the pool (not the number
of runs) bounds the load on Thanos, so three days in flight keep the pool busy
during a backfill while a manual rerun still starts; more would only pile up
runs waiting for the pool. Two runs of one day are safe (the tenant-day lease).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from airflow.sdk import dag, get_current_context, task, task_group
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
    day_params,
)

from etl.worker import orchestration
from etl.worker.pipeline import NoDataError

log = logging.getLogger(__name__)

# Each per-tenant task names its map index after the account and the day it costs
# (see _tenant_day), so the grid shows which day a run costs, whatever its dates say.
TENANT_DAY = "{{ tenant_name }} {{ tenant_date }}"


def _tenant_day(tenant: dict[str, Any]) -> date:
    """The day of a per-tenant task; also names its map index after the account and day."""
    context = get_current_context()
    context["tenant_name"], context["tenant_date"] = tenant["name"], tenant["date"]
    return date.fromisoformat(tenant["date"])


@dag(
    dag_id=DAILY_DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    tags=["k8scost", "costs"],
    params=day_params(
        "UTC day to (re)cost, YYYY-MM-DD; empty = the run's logical date",
        "Tenant ids to run; empty = every kubernetes_cnr account",
    ),
)
def k8s_costs_daily():
    @task
    def list_tenants() -> list[dict[str, str]]:
        context = get_current_context()
        params, run = context["params"], context["dag_run"]
        try:
            day = orchestration.run_day(params["date"], run.logical_date, run.run_after)
        except ValueError as error:  # a day not over yet: fail now, not after an hour of retries
            raise AirflowFailException(str(error)) from error
        # A task cannot set its own run's note in Airflow 3: the log says it instead.
        log.info(
            "run %s costs %s (date param %r, logical date %s)",
            run.run_id,
            day,
            params["date"],
            run.logical_date,
        )
        tenants = orchestration.tenants_for_run(task_settings(), params["tenants"] or None)
        return [{**tenant, "date": day.isoformat()} for tenant in tenants]

    @task(
        pool=PROMQL_POOL,
        execution_timeout=EXTRACT_TIMEOUT,
        map_index_template=TENANT_DAY,
        multiple_outputs=False,
    )
    def extract(tenant: dict[str, Any]) -> dict[str, Any]:
        day, run_id = _tenant_day(tenant), get_current_context()["run_id"]
        try:
            url = orchestration.extract(task_settings(), tenant["tenant_id"], day, run_id)
        except NoDataError as error:  # retrying cannot help; the repair DAG watches late data
            raise AirflowFailException(str(error)) from error
        return {**tenant, "extract_url": url}

    @task(map_index_template=TENANT_DAY, multiple_outputs=False)
    def archive(tenant: dict[str, Any]) -> dict[str, Any]:
        orchestration.archive_extract(
            task_settings(), tenant["tenant_id"], _tenant_day(tenant), tenant["extract_url"]
        )
        return tenant

    @task(execution_timeout=LOAD_TIMEOUT, map_index_template=TENANT_DAY, multiple_outputs=False)
    def load(tenant: dict[str, Any]) -> dict[str, Any]:
        loaded = orchestration.load(
            task_settings(), tenant["tenant_id"], _tenant_day(tenant), tenant["extract_url"]
        )
        return {**tenant, **loaded}

    @task_group
    def tenant_day(tenant: dict[str, Any]):
        return load(archive(extract(tenant)))

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
