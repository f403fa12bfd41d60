"""The daily DAG on Airflow's CeleryExecutor, with a worker killed mid-run (issue #29).

8 simulated tenants x 4 days, `airflow backfill create` of k8s_costs_daily on a
private PostgreSQL and Redis with two Celery workers (tests/celery_costing.py). While a
`load` runs on worker1 and holds its tenant-day's lease, worker1 is killed with
SIGKILL, with every task process it runs (a lost node), then started again. The
scheduler finds the dead tasks by their missing heartbeats and retries them.

Then, against truths computed apart from the DAG:
- every tenant-day's stored rows equal what `k8scost run` stores for it in another
  data directory, each key live exactly once, and its cost is the scenario's
  (tests/truth.py);
- the ledger counts every attempt Airflow made and records the killed load as
  `abandoned`, then `loaded`;
- the `k8scost_promql` pool's slots were never exceeded, read from Airflow's task
  instances (every try's start and end) in PostgreSQL;
- both workers ran tasks;
- k8s_cost_alerts ran on the Asset events the runs emitted.

Marked `celery`: it takes minutes, so `make test` starts it first (tests/conftest.py), and
`make test-celery` runs it with the other `celery` tests alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg2
import pytest

from devtools import sessions
from etl.storage import alerting, leases, registry
from etl.worker import ledger
from tests.celery_costing import ALERTS, DAILY, REPAIR, Costing, celery_costing
from tests.truth import COST_KEYS, expected_day_costs

pytestmark = [pytest.mark.e2e, pytest.mark.celery]

TENANTS, DAYS = 8, 4
# Fewer slots than the workers have (2 x 2): the bound is the pool's, not the workers'.
POOL, POOL_SLOTS = "k8scost_promql", 2
KILLED = "worker1"
NETWORK = 1e-4  # Prometheus' `increase` (tests/e2e/test_pipeline.py); the rest is exact
EXACT = 1e-9
ALERTS_TIMEOUT_S = 180
POLL_S = 0.05  # a load holds its lease for seconds: checked this often, one is not missed
# How often the runs' states are asked meanwhile, only to stop waiting once they ended:
# every REST call costs Airflow's API server (one process on 2 cores) what the tasks need.
RUNS_POLL_S = 2.0


@pytest.fixture(scope="module")
def costing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Costing]:
    with celery_costing(tmp_path_factory.mktemp("celery-scale"), TENANTS, DAYS) as costing:
        costing.airflow.api(
            "patch",
            f"/pools/{POOL}",
            json={"name": POOL, "slots": POOL_SLOTS, "include_deferred": False},
        )
        yield costing


def _lease_on(costing: Costing, pids: set[int]) -> dict[str, Any] | None:
    db = registry.open_database(costing.settings.mongo_uri, costing.settings.mongo_db)
    for held in db[leases.COLLECTION].find({}):
        if held.get("pid") in pids:
            return held
    return None


@pytest.fixture(scope="module")
def backfilled(costing: Costing) -> Iterator[dict[str, Any]]:
    """The backfill, with worker1 killed while one of its loads holds a lease; and the
    truth (`k8scost run` into a data directory of its own) computed meanwhile, as it does
    not depend on what Airflow stores."""
    truth = costing.start_truth(concurrency=2)
    try:
        runs = costing.backfill()
        assert len(runs) == DAYS
        killed_lease = None
        runs_asked = time.monotonic()
        while killed_lease is None:
            worker = costing.airflow.workers[KILLED]
            killed_lease = _lease_on(costing, set(sessions.members([worker.pid])))
            if killed_lease is None:
                if time.monotonic() - runs_asked >= RUNS_POLL_S:
                    states = {run["state"] for run in costing.airflow.runs(DAILY)}
                    assert states & {"queued", "running"}, "no load held a lease on worker1"
                    runs_asked = time.monotonic()
                time.sleep(POLL_S)
        killed = costing.airflow.kill_worker(KILLED)
        assert killed_lease["pid"] in killed
        costing.airflow.start_worker(KILLED)
        states = costing.airflow.wait(DAILY, runs, timeout_s=1500)
        yield {"states": states, "lease": killed_lease, "runs": runs, "truth": truth}
    finally:
        truth.stop()


def test_every_run_succeeds_after_the_kill(costing, backfilled):
    assert set(backfilled["states"].values()) == {"success"}, backfilled["states"]


def test_every_tenant_day_is_stored_once_and_equal_to_k8scost_run(costing, backfilled):
    truth_settings, _ = backfilled["truth"].result()
    truth = costing.stored_elsewhere(truth_settings)
    stored = costing.stored_elsewhere(costing.settings)
    assert stored.keys() == truth.keys()
    assert len(stored) == TENANTS * DAYS
    for key, day in stored.items():
        tenant, on = key.split()
        assert day["copies"] == {table: [1] for table in day["copies"]}, key
        assert day["day"] == pytest.approx(truth[key]["day"], rel=1e-12, abs=1e-12), key
        assert len(day["allocation"]) == len(truth[key]["allocation"]) > 0
        for row, true_row in zip(day["allocation"], truth[key]["allocation"], strict=True):
            assert row.keys() == true_row.keys()
            for column, value in row.items():  # the pod's uid, hours or None (not measured)
                if isinstance(value, float):
                    assert value == pytest.approx(true_row[column], rel=1e-12, abs=1e-12), key
                else:
                    assert value == true_row[column], key
        expected = expected_day_costs(costing.scenario, tenant, date.fromisoformat(on))
        for component in COST_KEYS:
            tolerance = NETWORK if component == "network_cost" else EXACT
            assert day["day"][component] == pytest.approx(expected[component], rel=tolerance)


def _tries(costing: Costing) -> list[dict[str, Any]]:
    """Every try of every task instance of the daily DAG, current and past, from Airflow's
    metadata database (task_instance and task_instance_history)."""
    columns = "task_id, map_index, run_id, try_number, state, pool, start_date, end_date"
    query = " UNION ALL ".join(
        f"SELECT {columns}, rendered_map_index FROM {table} WHERE dag_id = %s"
        for table in ("task_instance", "task_instance_history")
    )
    dsn = costing.airflow.postgres.url.replace("+psycopg2", "")
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(query, (DAILY, DAILY))
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tenant_days(costing: Costing) -> dict[tuple[str, int], str]:
    """(run, map index) -> "<account> <day>", from the list each run's tenant_day group was
    expanded over (list_tenants' XCom): a try's own rendered map index is missing or not
    yet rendered when its worker was killed, the expansion's input never is."""
    query = (
        "SELECT run_id, value FROM xcom"
        " WHERE dag_id = %s AND task_id = 'list_tenants' AND key = 'return_value'"
    )
    dsn = costing.airflow.postgres.url.replace("+psycopg2", "")
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(query, (DAILY,))
        return {
            (run_id, index): f"{tenant['name']} {tenant['date']}"
            for run_id, tenants in cursor.fetchall()
            for index, tenant in enumerate(tenants)
        }


def _tries_by_tenant_day(
    tries: list[dict[str, Any]], task_id: str, names: dict[tuple[str, int], str]
) -> dict[str, list[str]]:
    """ "<account> <day>" -> the states of the task's tries, oldest first."""
    found: dict[str, list[str]] = {}
    for t in sorted(tries, key=lambda t: t["try_number"]):
        if t["task_id"] == task_id:
            found.setdefault(names[(t["run_id"], t["map_index"])], []).append(t["state"])
    return found


def test_the_ledger_counts_every_attempt_and_the_killed_load(costing, backfilled):
    tries = _tries(costing)
    extracts = _tries_by_tenant_day(tries, "tenant_day.extract", _tenant_days(costing))
    db = registry.open_database(costing.settings.mongo_uri, costing.settings.mongo_db)
    records = ledger.find_records(db, costing.tenants, costing.days[0], costing.days[-1])
    names = {c["tenant_id"]: c["name"] for c in costing.scenario["clusters"]}
    assert len(records) == TENANTS * DAYS
    for (tenant, day), record in records.items():
        assert record["status"] == ledger.SUCCEEDED
        states = extracts[f"{names[tenant]} {day}"]
        # An extract killed on worker1 before its first line counted no attempt.
        killed_tries = len(states) - states.count("success")
        assert len(states) - killed_tries <= record["attempts"] <= len(states), states
    killed = backfilled["lease"]
    tenant, day = killed["_id"].split("/")
    outcomes = [entry["status"] for entry in records[(tenant, day)]["history"]]
    abandoned = outcomes.index(ledger.ABANDONED)
    assert ledger.LOADED in outcomes[abandoned + 1 :], outcomes
    assert records[(tenant, day)]["history"][abandoned]["pid"] == killed["pid"]


def test_the_promql_pool_was_never_exceeded(costing, backfilled):
    pooled = [t for t in _tries(costing) if t["pool"] == POOL and t["start_date"]]
    assert len(pooled) >= TENANTS * DAYS
    # Ends before starts at the same instant: a slot freed and taken at once is one slot.
    edges = sorted(
        [(t["start_date"], 1) for t in pooled] + [(t["end_date"], -1) for t in pooled],
        key=lambda edge: (edge[0], edge[1]),
    )
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    assert 1 <= peak <= POOL_SLOTS


def test_both_workers_ran_tasks(costing, backfilled):
    logs = costing.airflow.home / "process-logs"
    for worker in ("worker1", "worker2"):
        received = sum(
            log.read_text(errors="replace").count("] received")
            for log in logs.glob(f"{worker}-*.log")
        )
        assert received > 0, worker


def test_the_alerts_dag_ran_on_the_asset_events(costing, backfilled):
    for dag_id in (DAILY, REPAIR):
        costing.airflow.api("patch", f"/dags/{dag_id}", json={"is_paused": True})
    costing.airflow.restart_scheduler(AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="True")
    deadline = time.monotonic() + ALERTS_TIMEOUT_S
    while not (runs := costing.airflow.runs(ALERTS)):
        assert time.monotonic() < deadline, "no asset-triggered run of k8s_cost_alerts"
        time.sleep(1)
    run = runs[0]
    assert run["run_type"] == "asset_triggered"
    assert costing.airflow.wait(ALERTS, [run["dag_run_id"]]) == {run["dag_run_id"]: "success"}
    path = f"/dags/{ALERTS}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    events = costing.airflow.api("get", path)["asset_events"]
    loaded = {(t, e["extra"]["date"]) for e in events for t in e["extra"]["tenants"]}
    assert loaded and {day for _, day in loaded} <= {day.isoformat() for day in costing.days}
    db = registry.open_database(costing.settings.mongo_uri, costing.settings.mongo_db)
    evaluated = {(e["cloud_account_id"], e["day"]) for e in alerting.find_evaluations(db)}
    assert evaluated == loaded
