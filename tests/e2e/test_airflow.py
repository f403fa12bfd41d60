"""The DAGs under a real scheduler (LocalExecutor), against a real Prometheus and a real S3 API.

One Airflow (tests/airflow_stack.py) serves every test of this module, in order:
a 3-day backfill through `airflow backfill create`; a rerun of one day through a
triggered run with params, and two at once; a run triggered with a logical date
(the UI's date picker) costing that day; a failed extract while Prometheus is
stopped, then the repair DAG healing it; `k8scost replay` from the archive; and
last, the Asset-scheduled `k8s_cost_alerts` evaluating the days the daily runs loaded.

Thanos and S3 reach the tasks as Airflow Connections (AIRFLOW_CONN_*), the archive
is a bucket on moto's S3 server on loopback, ClickHouse and MongoDB are the
embedded defaults under one data directory shared by the tasks and this process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from devtools import demo
from devtools.localprom import PrometheusServer, free_port
from etl.core.config import Settings
from etl.storage import alerting, registry, warehouse
from etl.storage import ledger as ledger_store
from etl.storage.clickhouse import connect
from etl.worker import ledger
from tests.airflow_stack import AirflowStack
from tests.conftest import SIM_END_DAY, simulated_history
from tests.stored import same_day, stored_day
from tests.truth import COST_KEYS, expected_day_costs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # minutes: `make test` starts this file first

DAILY, REPAIR, ALERTS = "k8s_costs_daily", "k8s_costs_repair", "k8s_cost_alerts"
DAYS = [date(2026, 5, 31), date(2026, 6, 1), SIM_END_DAY]
SCRAPE_INTERVAL_S = 300  # 5x fewer samples than the 60 s history: a faster backfill
BUCKET = "k8scost-raw"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
NETWORK = 1e-4  # Prometheus' `increase` (see tests/e2e/test_pipeline.py); the rest is exact
EXACT = 1e-9


@dataclass
class Stack:
    airflow: AirflowStack
    prometheus: PrometheusServer
    settings: Settings  # what this process uses to read the stores the tasks write
    scenario: dict[str, Any]
    tenants: list[str]
    names: dict[str, str]

    def ledger(self, tenant: str, day: date) -> dict[str, Any]:
        db = registry.open_database(self.settings.mongo_uri, self.settings.mongo_db)
        return db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("airflow-e2e")
    tsdb, _, scenario = simulated_history(root, 2, len(DAYS), SCRAPE_INTERVAL_S)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port)
    moto.start()
    s3_url = f"http://127.0.0.1:{s3_port}"
    _s3(s3_url).create_bucket(Bucket=BUCKET)
    archive_url = f"s3://{BUCKET}/raw"
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(root / "data"), "RAW_ARCHIVE_URL": archive_url}
    ).with_overrides(
        s3_endpoint_url=s3_url,
        s3_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        s3_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    demo.register_clusters(settings, scenario)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    prometheus = PrometheusServer(tsdb).start()
    connections = {
        "AIRFLOW_CONN_K8SCOST_THANOS": json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": prometheus.port}
        ),
        "AIRFLOW_CONN_K8SCOST_S3": json.dumps(
            {
                "conn_type": "aws",
                "login": S3_KEYS["AWS_ACCESS_KEY_ID"],
                "password": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
                "extra": {"endpoint_url": s3_url, "region_name": "us-east-1"},
            }
        ),
    }
    airflow = AirflowStack(
        root / "airflow",
        {
            "K8SCOST_DATA_DIR": str(settings.data_dir),
            "RAW_ARCHIVE_URL": archive_url,
            # Nothing listens here: the tasks must take Thanos from the Connection.
            "THANOS_URL": f"http://127.0.0.1:{free_port()}",
            "PROMQL_RETRIES": "0",
            **connections,
        },
    )
    try:
        airflow.start()
        yield Stack(
            airflow=airflow,
            prometheus=prometheus,
            settings=settings,
            scenario=scenario,
            tenants=[c["tenant_id"] for c in scenario["clusters"]],
            names={c["tenant_id"]: c["name"] for c in scenario["clusters"]},
        )
    finally:
        airflow.stop()
        prometheus.stop()
        moto.stop()


def _s3(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )


def _totals(stack: Stack, day: date) -> dict[str, dict[str, float]]:
    return {tenant: stored_day(stack.settings, tenant, day) for tenant in stack.tenants}


def _same(totals: dict[str, dict[str, float]]) -> dict[str, Any]:
    """`totals` to compare with `==` after reruns (see tests/stored.py same_day)."""
    return {tenant: same_day(day) for tenant, day in totals.items()}


@pytest.fixture(scope="module")
def backfilled(stack: Stack) -> dict[date, dict[str, dict[str, float]]]:
    """`airflow backfill create` over the 3 days, run to the end by the scheduler."""
    stack.airflow.backfill(
        "--dag-id",
        DAILY,
        "--from-date",
        DAYS[0].isoformat(),
        "--to-date",
        DAYS[-1].isoformat(),
    )
    runs = [run["dag_run_id"] for run in stack.airflow.runs(DAILY)]
    assert len(runs) == len(DAYS)
    assert set(stack.airflow.wait(DAILY, runs).values()) == {"success"}
    return {day: _totals(stack, day) for day in DAYS}


def test_a_backfill_costs_records_and_archives_every_tenant_day(stack, backfilled):
    listed = _s3(stack.settings.s3_endpoint_url).list_objects_v2(Bucket=BUCKET)
    keys = [item["Key"] for item in listed["Contents"]]
    for day in DAYS:
        for tenant in stack.tenants:
            expected = expected_day_costs(stack.scenario, tenant, day)
            stored = backfilled[day][tenant]
            for component in COST_KEYS:
                tolerance = NETWORK if component == "network_cost" else EXACT
                assert stored[component] == pytest.approx(expected[component], rel=tolerance)
            assert stored["expense_rows"] == 1
            record = stack.ledger(tenant, day)
            assert record["status"] == ledger.SUCCEEDED and record["attempts"] == 1
            assert record["totals"]["cost"] == pytest.approx(stored["cost"], rel=EXACT)
            assert record["source"]["samples"] > 0
            assert record["extract_url"].startswith(f"s3://{BUCKET}/raw/tenant={tenant}/")
            prefix = f"raw/tenant={tenant}/date={day.isoformat()}/"
            assert f"{prefix}current.json" in keys
            assert any(key.startswith(prefix) and key.endswith("/manifest.json") for key in keys)
    run = stack.airflow.runs(DAILY)[0]
    states = stack.airflow.task_states(DAILY, run["dag_run_id"])
    day = run["logical_date"][:10]
    indexes = {index for (task, index) in states if "." in task}
    assert indexes == {f"{name} {day}" for name in stack.names.values()}  # account name, day
    events = stack.airflow.api("get", "/assets/events")["asset_events"]
    assert {event["extra"].get("date") for event in events} == {day.isoformat() for day in DAYS}


def test_rerunning_a_day_through_a_triggered_run_changes_nothing(stack, backfilled):
    day, tenant = DAYS[1], stack.tenants[0]
    single = stack.airflow.trigger(DAILY, {"date": day.isoformat(), "tenants": [tenant]})
    assert stack.airflow.wait(DAILY, [single]) == {single: "success"}
    assert _totals(stack, day) == _same(backfilled[day])
    assert stack.ledger(tenant, day)["attempts"] == 2  # the backfill, then this run
    # A backfill and a manual rerun of one day at once: the lease serializes the loads.
    both = [stack.airflow.trigger(DAILY, {"date": day.isoformat()}) for _ in range(2)]
    assert set(stack.airflow.wait(DAILY, both).values()) == {"success"}
    assert _totals(stack, day) == _same(backfilled[day])
    record = stack.ledger(tenant, day)
    assert record["status"] == ledger.SUCCEEDED
    # 4 on MongoDB; montydb, the embedded stand-in, runs `$inc` as a read then a write,
    # so two task processes starting at the same instant can count once.
    assert record["attempts"] in (3, 4)


def test_a_run_triggered_with_a_logical_date_costs_that_day(stack, backfilled):
    """The UI's date picker: logical date D (at any time of day), no params."""
    day, before = DAYS[1], DAYS[0]
    attempts = {d: stack.ledger(stack.tenants[0], d)["attempts"] for d in (day, before)}
    body = {"logical_date": f"{day.isoformat()}T12:00:00Z", "conf": {}}
    run = stack.airflow.api("post", f"/dags/{DAILY}/dagRuns", json=body)
    # Airflow infers the interval before the logical date; the run costs D regardless.
    assert run["data_interval_start"].startswith(before.isoformat())
    assert stack.airflow.wait(DAILY, [run["dag_run_id"]]) == {run["dag_run_id"]: "success"}
    record = stack.ledger(stack.tenants[0], day)
    assert record["run_id"] == run["dag_run_id"] and record["attempts"] == attempts[day] + 1
    assert stack.ledger(stack.tenants[0], before)["attempts"] == attempts[before]
    assert _totals(stack, day) == _same(backfilled[day])


def test_a_failed_extract_keeps_the_day_and_the_repair_dag_heals_it(stack, backfilled):
    day, tenant = DAYS[2], stack.tenants[1]
    stack.prometheus.stop()
    try:
        failed = stack.airflow.trigger(DAILY, {"date": day.isoformat(), "tenants": [tenant]})
        assert stack.airflow.wait(DAILY, [failed]) == {failed: "failed"}
        states = stack.airflow.task_states(DAILY, failed)
        assert states[("tenant_day.extract", f"{stack.names[tenant]} {day}")] == "failed"
        record = stack.ledger(tenant, day)
        assert record["status"] == ledger.FAILED and record["stage"] == "extract"
        assert "unreachable" in record["last_error"]
        assert record["attempts"] == 1 + 4  # the backfill, then 1 try + 3 retries
        assert _totals(stack, day) == _same(backfilled[day])
    finally:
        stack.prometheus.start()
    repair = stack.airflow.trigger(REPAIR, {"last_date": day.isoformat(), "window_days": 3})
    assert stack.airflow.wait(REPAIR, [repair]) == {repair: "success"}
    healed = [run["dag_run_id"] for run in stack.airflow.runs(DAILY)]
    healed = [run for run in healed if run.startswith(f"repair__{day.isoformat()}__")]
    assert len(healed) == 1  # only the failed tenant-day was missing
    assert stack.airflow.wait(DAILY, healed) == {healed[0]: "success"}
    assert stack.ledger(tenant, day)["status"] == ledger.SUCCEEDED
    assert _totals(stack, day) == _same(backfilled[day])


def test_replaying_a_day_from_the_archive_gives_the_same_totals(stack, backfilled):
    day = DAYS[0]
    with connect(stack.settings.clickhouse_dsn) as client:  # a wrong day to be replaced
        for tenant in stack.tenants:
            warehouse.restate_day(
                client,
                "expenses",
                tenant,
                day,
                pd.DataFrame(
                    {"resource_id": [registry.cluster_resource_id(tenant)], "cost": [1.0]}
                ),
            )
    assert _totals(stack, day) != backfilled[day]
    stack.prometheus.stop()  # replay never asks Thanos
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **S3_KEYS,
            "AWS_ENDPOINT_URL": stack.settings.s3_endpoint_url,
            "K8SCOST_DATA_DIR": str(stack.settings.data_dir),
            "RAW_ARCHIVE_URL": stack.settings.raw_archive_url,
        }
        k8scost = Path(sys.executable).with_name("k8scost")
        done = subprocess.run(
            [str(k8scost), "replay", "--date", day.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stack.prometheus.start()
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("replayed from s3://") == len(stack.tenants)
    assert _totals(stack, day) == _same(backfilled[day])
    assert {stack.ledger(t, day)["run_id"] for t in stack.tenants} == {"replay"}


def test_the_asset_scheduled_alerts_dag_evaluates_what_the_daily_runs_loaded(stack, backfilled):
    # Asset-triggered runs are created by the scheduler's scheduling loop, off in this
    # stack until now: the cost DAGs are paused first so that only the Asset's consumer
    # gets a run, from the events the daily runs above emitted. Airflow gives that run
    # the events up to when the first of them was queued (the later ones wait for the
    # next run): it must evaluate exactly the tenant-days its events name.
    for dag_id in (DAILY, REPAIR):
        stack.airflow.api("patch", f"/dags/{dag_id}", json={"is_paused": True})
    assert stack.airflow.runs(ALERTS) == []
    stack.airflow.restart_scheduler(AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="True")
    deadline = time.monotonic() + 180
    while not (runs := stack.airflow.runs(ALERTS)):
        assert time.monotonic() < deadline, "no asset-triggered run of k8s_cost_alerts"
        time.sleep(1)
    (run,) = runs
    assert run["run_type"] == "asset_triggered"
    assert stack.airflow.wait(ALERTS, [run["dag_run_id"]]) == {run["dag_run_id"]: "success"}
    path = f"/dags/{ALERTS}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    events = stack.airflow.api("get", path)["asset_events"]
    loaded = {(t, e["extra"]["date"]) for e in events for t in e["extra"]["tenants"]}
    assert loaded and {day for _, day in loaded} <= {day.isoformat() for day in DAYS}
    db = registry.open_database(stack.settings.mongo_uri, stack.settings.mongo_db)
    evaluated = {(e["cloud_account_id"], e["day"]) for e in alerting.find_evaluations(db)}
    assert evaluated == loaded
