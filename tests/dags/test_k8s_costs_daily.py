"""The DAGs: integrity, policy, and a real `dag.test()` over a simulated day."""

from __future__ import annotations

import itertools
from pathlib import Path

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.state import DagRunState
from k8scost_airflow.policy import COSTS_ASSET, PROMQL_POOL

from etl import ledger, registry
from tests.stored import stored_day
from tests.truth import expected_day_costs

DAG_ID = "k8s_costs_daily"
REPAIR_DAG_ID = "k8s_costs_repair"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db) -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_imports(dagbag):
    assert dagbag.import_errors == {}
    assert {DAG_ID, REPAIR_DAG_ID} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", [DAG_ID, REPAIR_DAG_ID])
def test_policy_tags_retries_timeouts_and_bounded_runs(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert "k8scost" in dag.tags
    assert not dag.catchup
    assert 1 <= dag.max_active_runs <= 3
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None


def test_the_daily_dag_has_an_explicit_utc_daily_timetable_and_rerun_params(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.summary == "0 0 * * *"
    assert str(dag.timetable._timezone) == "UTC"
    assert dag.params["date"] is None and dag.params["tenants"] == []
    schema = dag.params.get_param("date").schema
    assert schema["type"] == ["null", "string"] and schema["format"] == "date"


def test_the_daily_dag_maps_four_steps_per_tenant_and_emits_an_asset(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    steps = ["extract", "archive", "load", "check"]
    for upstream, downstream in itertools.pairwise(steps):
        task = dag.get_task(f"tenant_day.{upstream}")
        assert task.downstream_task_ids == {f"tenant_day.{downstream}"}
    for step in steps:
        assert dag.get_task(f"tenant_day.{step}").map_index_template == "{{ tenant_name }}"
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


def test_dag_test_costs_the_interval_day_for_every_tenant(
    airflow_db, dagbag, pipeline_settings, simulated_prometheus, monkeypatch
):
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(pipeline_settings.data_dir))
    monkeypatch.setenv("THANOS_URL", simulated_prometheus.url)
    day = simulated_prometheus.days[1]
    # A run triggered at D+1 00:00 gets the last complete interval, [D, D+1): day D.
    after_day = pendulum.datetime(day.year, day.month, day.day, tz="UTC").add(days=1)
    run = dagbag.get_dag(DAG_ID).test(logical_date=after_day)
    assert run.state == DagRunState.SUCCESS
    db = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    for tenant in simulated_prometheus.tenant_ids:
        expected = sum(expected_day_costs(simulated_prometheus.scenario, tenant, day).values())
        assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(
            expected, rel=1e-4
        )
        record = db[ledger.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})
        assert record["status"] == ledger.SUCCEEDED and record["run_id"] == run.run_id
