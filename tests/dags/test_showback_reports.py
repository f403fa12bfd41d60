"""`k8s_showback_reports` end to end: a monthly report by `label:team` over a simulated
month lands in S3 (moto) through `airflow dags test`, its total the API's; restating one
day of the month writes version 2 with the new total, and an unchanged ledger nothing."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

from api import auth
from api.app import create_app
from api.context import CLICKHOUSE_EXTENSION
from api.reportdefs import definition
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import ledger as ledger_store
from etl.storage import registry, warehouse
from etl.storage import reports as store
from etl.storage.clickhouse import connect
from etl.worker import ledger
from tests.moto_s3 import moto_server, point_boto3_at

pytestmark = pytest.mark.slow  # minutes: `make test` starts this file first

DAG_ID = "k8s_showback_reports"
ORG = "org-r"
# February 2026: after the DAGs' start_date, so `airflow dags test` runs their tasks.
FEBRUARY = [date(2026, 2, 1) + timedelta(days=n) for n in range(28)]
BUCKET = "showback"


def _rows(day: date, account: str, scale: float = 1.0) -> pd.DataFrame:
    n = day.day
    rows = [
        ("p1", "web", {"team": "a"}, 1.25 * n),
        ("p2", "api", {"team": "b"}, 0.5 + n / 8),
        ("p3", "batch", {}, 0.75),
        ("idle", "__idle__", {}, 2.0),
    ]
    frame = pd.DataFrame(
        {
            "resource_id": [f"{account}-{rid}" for rid, *_ in rows],
            "namespace": [ns for _, ns, _, _ in rows],
            "pod": [ns if ns.startswith("__") else f"pod-{rid}" for rid, ns, _, _ in rows],
            "node": ["n1"] * len(rows),
            "labels": [labels for _, _, labels, _ in rows],
            "services": [[] for _ in rows],
            "cpu_cost": [cost * scale for *_, cost in rows],
        }
    )
    for column in COMPONENTS:
        if column != "cpu_cost":
            frame[column] = 0.0
    frame["cost"] = frame[list(COMPONENTS)].sum(axis=1)
    return frame


def _settle(db: Any, account: str, day: date, run_id: str) -> None:
    record = {"cloud_account_id": account, "date": day.isoformat(), "status": ledger.SUCCEEDED}
    db[ledger_store.COLLECTION].replace_one(
        {"_id": ledger.record_id(account, day)},
        {"_id": ledger.record_id(account, day), **record, "run_id": run_id, "updated_at": 1},
        upsert=True,
    )


@pytest.fixture
def s3(monkeypatch) -> Iterator[Any]:
    with moto_server() as endpoint:
        point_boto3_at(monkeypatch, endpoint)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def month(tmp_path) -> Settings:
    """Two clusters with every day of February 2026 loaded and settled, and the report."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        for account in ("acc-1", "acc-2"):
            registry.add_account(db, ORG, f"name-{account}", account)
            for day in FEBRUARY:
                warehouse.restate_day(client, "k8s_allocation", account, day, _rows(day, account))
                _settle(db, account, day, "run-1")
    fields = definition("teams", [], "label:team", "monthly", {}, "csv", f"s3://{BUCKET}/monthly/")
    store.add_report(db, ORG, fields)
    return settings


def _dags_test(settings: Settings, day: str) -> None:
    airflow = Path(sys.executable).with_name("airflow")
    env = {**os.environ, "K8SCOST_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run(
        [str(airflow), "dags", "test", DAG_ID, day],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def _api_answer(settings: Settings) -> dict[str, Any]:
    """k8s_costs for the month by label:team, through the API, the embedded store let go."""
    app = create_app(settings)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    try:
        with app.test_client() as client:
            response = client.get(
                f"/restapi/v2/organizations/{ORG}/k8s_costs",
                query_string={
                    "start_date": day_start_epoch(FEBRUARY[0]),
                    "end_date": day_start_epoch(FEBRUARY[-1]),
                    "group_by": "label:team",
                },
                headers={"Authorization": f"Bearer {auth.issue_token(db, ORG)}"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()
    finally:
        app.extensions[CLICKHOUSE_EXTENSION].close()


def _written(s3: Any, version: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    folder = f"monthly/teams/2026-02-01/v{version}/"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{folder}manifest.json")["Body"].read())
    body = s3.get_object(Bucket=BUCKET, Key=f"{folder}teams_2026-02-01_2026-02-28.csv")["Body"]
    return manifest, list(csv.DictReader(io.StringIO(body.read().decode())))


def _check(manifest: dict, rows: list[dict], answer: dict, version: int) -> None:
    assert manifest["version"] == version and manifest["period"]["first_day"] == "2026-02-01"
    assert manifest["cost_metric"] == answer["cost_metric"] == "billed"  # the default
    assert round(manifest["totals"]["cost"], 2) == round(answer["total_cost"], 2)
    assert manifest["totals"]["cost"] == pytest.approx(answer["total_cost"], rel=1e-12)
    assert {row["label:team"]: float(row["cost"]) for row in rows} == pytest.approx(
        {group["key"]: group["cost"] for group in answer["groups"]}, rel=1e-12
    )
    assert len(manifest["source_days"]) == 2 * len(FEBRUARY)
    assert {d["status"] for d in manifest["source_days"]} == {ledger.SUCCEEDED}


def test_a_monthly_report_lands_in_s3_and_a_restated_day_writes_version_2(airflow_db, s3, month):
    _dags_test(month, "2026-03-02")
    first = _api_answer(month)
    manifest, rows = _written(s3, 1)
    _check(manifest, rows, first, 1)
    written_by_hand = sum(
        float(_rows(day, account)["cost"].sum())
        for day in FEBRUARY
        for account in ("acc-1", "acc-2")
    )
    assert manifest["totals"]["cost"] == pytest.approx(written_by_hand, rel=1e-12)

    # February 10 of acc-2 is restated (rerun, costs doubled): the next run writes v2.
    db = registry.open_database(month.mongo_uri, month.mongo_db)
    restated = FEBRUARY[9]
    with connect(month.clickhouse_dsn) as client:
        warehouse.restate_day(
            client, "k8s_allocation", "acc-2", restated, _rows(restated, "acc-2", 2.0)
        )
    _settle(db, "acc-2", restated, "run-2")
    _dags_test(month, "2026-03-03")
    second = _api_answer(month)
    assert second["total_cost"] == pytest.approx(
        first["total_cost"] + float(_rows(restated, "acc-2")["cost"].sum()), rel=1e-12
    )
    manifest, rows = _written(s3, 2)
    _check(manifest, rows, second, 2)
    assert _written(s3, 1)[0]["totals"] == pytest.approx(first["totals"])  # v1 stays

    _dags_test(month, "2026-03-04")  # nothing changed: nothing written
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="monthly/teams/2026-02-01/")
    assert {item["Key"].split("/")[3] for item in listed["Contents"]} == {"v1", "v2"}


def test_the_reports_dag_imports_with_the_policy_and_a_daily_utc_schedule(airflow_db):
    from airflow.dag_processing.dagbag import DagBag  # after conftest set AIRFLOW_HOME

    dagbag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag(DAG_ID)
    assert "k8scost" in dag.tags and not dag.catchup and dag.max_active_runs == 1
    assert dag.timetable.summary == "0 7 * * *" and set(dag.params) == {"date"}
    for task in dag.tasks:
        assert task.retries >= 1 and task.retry_exponential_backoff
        assert task.execution_timeout is not None
