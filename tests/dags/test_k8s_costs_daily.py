"""The DAGs: integrity, policy, the day each kind of run costs, and a real `airflow dags test`."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from k8scost_airflow.policy import COSTS_ASSET, PROMQL_POOL, START_DATE
from sqlalchemy import select

from etl.core.days import day_start
from etl.storage import ledger as ledger_store
from etl.storage import registry
from etl.worker import ledger, orchestration
from tests.stored import stored_day
from tests.truth import expected_day_costs

DAG_ID = "k8s_costs_daily"
REPAIR_DAG_ID = "k8s_costs_repair"
ALERTS_DAG_ID = "k8s_cost_alerts"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db) -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_imports(dagbag):
    assert dagbag.import_errors == {}
    assert {DAG_ID, REPAIR_DAG_ID, ALERTS_DAG_ID} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", [DAG_ID, REPAIR_DAG_ID, ALERTS_DAG_ID])
def test_policy_tags_retries_timeouts_and_bounded_runs(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert "k8scost" in dag.tags
    assert not dag.catchup
    assert 1 <= dag.max_active_runs <= 3
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None
        # One XCom per return value: a dict pushed key by key is a request per key.
        assert not getattr(task, "multiple_outputs", False), task.task_id


def test_the_alerts_dag_runs_on_the_daily_asset_and_takes_date_and_tenants(dagbag):
    dag = dagbag.get_dag(ALERTS_DAG_ID)
    assert tuple(dag.timetable.asset_condition.objects) == (COSTS_ASSET,)
    assert set(dag.params) == {"date", "tenants"}


def test_the_daily_dag_has_an_explicit_utc_daily_timetable_and_rerun_params(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.summary == "0 0 * * *"
    assert str(dag.timetable._timezone) == "UTC"
    assert dag.params["date"] is None and dag.params["tenants"] is None
    schema = dag.params.get_param("date").schema
    assert schema["type"] == ["null", "string"] and schema["format"] == "date"
    # Optional in the trigger form: empty means every tenant.
    assert dag.params.get_param("tenants").schema["type"] == ["null", "array"]


def test_the_daily_dag_maps_three_steps_per_tenant_and_emits_an_asset(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    steps = ["extract", "archive", "load"]  # the load ends with the check, in its lease
    for upstream, downstream in itertools.pairwise(steps):
        task = dag.get_task(f"tenant_day.{upstream}")
        assert task.downstream_task_ids == {f"tenant_day.{downstream}"}
    for step in steps:
        template = dag.get_task(f"tenant_day.{step}").map_index_template
        assert template == "{{ tenant_name }} {{ tenant_date }}"
    # Only the Thanos step takes a slot of the PromQL pool.
    assert dag.get_task("tenant_day.extract").pool == PROMQL_POOL
    assert dag.get_task("tenant_day.load").pool != PROMQL_POOL
    assert [outlet.uri for outlet in dag.get_task("publish").outlets] == [COSTS_ASSET.uri]


def test_the_repair_dag_runs_after_the_daily_one_and_triggers_it(dagbag):
    dag = dagbag.get_dag(REPAIR_DAG_ID)
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.summary == "0 6 * * *"
    assert dag.max_active_runs == 1
    assert dag.get_task("find_days").pool == PROMQL_POOL
    assert dag.get_task("rerun_day").partial_kwargs["trigger_dag_id"] == DAG_ID


def test_every_kind_of_run_costs_the_day_of_its_logical_date(dagbag):
    """The run infos the real timetable gives, through the one rule."""
    dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dagbag.get_dag(DAG_ID)))
    first = pendulum.datetime(2026, 5, 30, tz="UTC")
    days = [first.add(days=n) for n in range(3)]
    # What `airflow backfill create --from-date 2026-05-30 --to-date 2026-06-01` creates.
    backfill = list(dag.iter_dagrun_infos_between(days[0], days[-1]))
    # The scheduled run after the one of 2026-05-29.
    scheduled = dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(first.subtract(days=1), first),
        restriction=TimeRestriction(earliest=START_DATE, latest=None, catchup=True),
    )
    for info in [*backfill, scheduled]:
        assert info.logical_date == info.data_interval.start  # [D, D+1) is logical date D
        assert orchestration.run_day(None, info.logical_date, info.run_after) == (
            info.logical_date.date()
        )
    assert [info.logical_date for info in backfill] == days
    # `airflow dags test k8s_costs_daily D` and a UI trigger with logical date D: Airflow
    # infers the interval before D, which is why the rule reads the logical date instead.
    day = days[1]
    assert dag.timetable.infer_manual_data_interval(run_after=day).start == days[0]
    assert orchestration.run_day(None, day, pendulum.now("UTC")) == day.date()


def test_airflow_dags_test_d_costs_day_d_for_every_tenant_and_not_the_day_before(
    airflow_db, pipeline_settings, simulated_prometheus
):
    before, day = simulated_prometheus.days  # Prometheus holds data for both
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(pipeline_settings.data_dir),
        "THANOS_URL": simulated_prometheus.url,
    }
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "dags", "test", DAG_ID, day.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f" costs {day} (" in done.stdout  # the first task's log names the day
    with create_session() as session:
        (run,) = session.scalars(
            select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == day_start(day))
        )
        assert run.state == DagRunState.SUCCESS
        map_indexes = {
            ti.rendered_map_index
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id))
            if ti.task_id == "tenant_day.load"
        }
    db = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    for tenant in simulated_prometheus.tenant_ids:
        expected = sum(expected_day_costs(simulated_prometheus.scenario, tenant, day).values())
        assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(
            expected, rel=1e-4
        )
        record = db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})
        assert record["status"] == ledger.SUCCEEDED and record["run_id"] == run.run_id
        # The day before, the one the data interval [D-1, D) names, is untouched.
        assert stored_day(pipeline_settings, tenant, before) == {}
        assert (
            db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, before)}) is None
        )
    accounts = registry.k8s_accounts(db, simulated_prometheus.tenant_ids)
    assert map_indexes == {f"{account.name} {day}" for account in accounts}
