"""The daily DAG: integrity, policy, and a real `dag.test()` over a simulated day."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.utils.state import DagRunState

from tests.stored import stored_day
from tests.truth import expected_day_costs

DAG_ID = "k8s_costs_daily"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db) -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_imports(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_policy_tags_retries_and_an_explicit_utc_daily_timetable(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    assert "k8scost" in dag.tags
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.summary == "0 0 * * *"
    assert str(dag.timetable._timezone) == "UTC"
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None


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
    for tenant in simulated_prometheus.tenant_ids:
        expected = sum(expected_day_costs(simulated_prometheus.scenario, tenant, day).values())
        assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(
            expected, rel=1e-4
        )
