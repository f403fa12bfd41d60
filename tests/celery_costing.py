"""Simulated tenants costed on the Celery stack: the scale test's and the bench's setup.

A simulated history of `clusters` tenants over `days` days (5 min scrape) in a local
Prometheus, the tenants registered in the embedded stores of one data directory, and
the Celery stack (tests/celery_stack.py) whose tasks read that Prometheus and write
that directory. `truth()` costs the same tenant-days with `k8scost run` into another
data directory: what the scale test compares the stored rows with, and what the bench
times beside the backfill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from devtools import demo, sessions
from devtools.localprom import PrometheusServer
from devtools.localservers import broker_and_database
from etl.core.config import Settings
from etl.storage import warehouse
from etl.storage.clickhouse import Client, connect
from tests.celery_stack import WORKERS, CeleryAirflowStack
from tests.conftest import simulated_history
from tests.stored import read_day, read_usage

DAILY, ALERTS, REPAIR = "k8s_costs_daily", "k8s_cost_alerts", "k8s_costs_repair"
SCRAPE_INTERVAL_S = 300
K8SCOST = Path(sys.executable).with_name("k8scost")
REPO = Path(__file__).resolve().parents[1]
# Hang guard for a whole backfill (the scale test's takes a few minutes on 2 cores).
BACKFILL_TIMEOUT_S = 1500
COPIED_TABLES = ("expenses", "k8s_cost_breakdown", "k8s_allocation", "k8s_container_usage")


@dataclass
class Costing:
    airflow: CeleryAirflowStack
    prometheus: PrometheusServer
    settings: Settings  # the stores the tasks write
    scenario: dict[str, Any]
    root: Path

    @property
    def tenants(self) -> list[str]:
        return [cluster["tenant_id"] for cluster in self.scenario["clusters"]]

    @property
    def days(self) -> list[date]:
        return [date.fromisoformat(day) for day in self.scenario["days"]]

    def backfill(self) -> list[str]:
        """`airflow backfill create` of k8s_costs_daily over the days: the runs' ids."""
        self.airflow.backfill(
            "--dag-id",
            DAILY,
            "--from-date",
            self.days[0].isoformat(),
            "--to-date",
            self.days[-1].isoformat(),
        )
        return [run["dag_run_id"] for run in self.airflow.runs(DAILY)]

    def truth(self, concurrency: int) -> tuple[Settings, float]:
        """`k8scost run --from --to --concurrency N` over the same tenant-days into a data
        directory of its own: (its settings, seconds it took)."""
        return self.start_truth(concurrency).result()

    def start_truth(self, concurrency: int) -> TruthRun:
        """`truth` started, not awaited: the scale test runs it while Airflow backfills,
        whose tasks spend much of their time waiting (retry delays, a dead worker's
        heartbeat timeout), so the two share the cores instead of following each other."""
        settings = registered(
            self.root / f"truth-{concurrency}", self.prometheus.url, self.scenario
        )
        env = {
            **os.environ,
            "K8SCOST_DATA_DIR": str(settings.data_dir),
            "THANOS_URL": settings.thanos_url,
        }
        first, last = self.days[0].isoformat(), self.days[-1].isoformat()
        command = [str(K8SCOST), "run", "--from", first, "--to", last]
        output = self.root / f"truth-{concurrency}.log"  # a file: no pipe to fill meanwhile
        started = time.monotonic()
        with output.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--concurrency", str(concurrency)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # so stop() reaches its pool's processes too
            )
        return TruthRun(process, settings, output, started)

    def stored_elsewhere(self, settings: Settings) -> dict[str, Any]:
        """`stored_rows` of another data directory, read in a child process (as JSON, which
        keeps floats exact): one process can open one chdb directory, and this one reads
        the tasks'."""
        code = (
            "import json, sys; from tests.celery_costing import stored_rows; "
            "print(json.dumps(stored_rows(sys.argv[1], sys.argv[2].split(','), sys.argv[3:])))"
        )
        days = ",".join(day.isoformat() for day in self.days)
        done = subprocess.run(
            [sys.executable, "-c", code, str(settings.data_dir), days, *self.tenants],
            env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'plugins'}"},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=REPO,
        )
        return json.loads(done.stdout)


@dataclass
class TruthRun:
    """A `k8scost run` of `Costing.start_truth`, running into `settings`' data directory."""

    process: subprocess.Popen[bytes]
    settings: Settings
    output: Path  # its stdout and stderr
    started: float  # time.monotonic() at its start

    def result(self) -> tuple[Settings, float]:
        """Once it exited (successfully): (its settings, seconds from its start to now, its
        run time when awaited at once, as `Costing.truth` does)."""
        try:
            self.process.wait(timeout=BACKFILL_TIMEOUT_S)
        finally:
            self.stop()
        assert self.process.returncode == 0, self.output.read_text(errors="replace")
        return self.settings, time.monotonic() - self.started

    def stop(self) -> None:
        """Kill it, with its pool's processes, if it still runs (a test failed before
        awaiting it)."""
        if self.process.poll() is None:
            sessions.signal_all([self.process.pid], signal.SIGKILL)
            self.process.wait()


def stored_rows(data_dir: str, days: list[str], tenants: list[str]) -> dict[str, Any]:
    """Per "tenant day": what readers see (`stored_day`), the live allocation rows
    (`stored_usage`, by pod), and per table how many live copies its keys have."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": data_dir})
    found = {}
    with connect(settings.clickhouse_dsn) as client:  # one open for every tenant-day
        for tenant in tenants:
            for day in map(date.fromisoformat, days):
                rows = sorted(read_usage(client, tenant, day), key=lambda row: row["pod_uid"])
                found[f"{tenant} {day}"] = {
                    "day": read_day(client, tenant, day),
                    "allocation": rows,
                    "copies": live_copies(client, tenant, day),
                }
    return found


def live_copies(client: Client, tenant: str, day: date) -> dict[str, list[int]]:
    """Per table, the distinct sums of `sign` over the tenant-day's keys: [1] when every
    row is there exactly once (a key loaded twice without its cancel row would sum 2)."""
    copies = {}
    for table in COPIED_TABLES:
        copies[table] = sorted(
            {
                row[0]
                for row in client.query(
                    f"SELECT sum(sign) FROM {table} WHERE cloud_account_id = {{tenant:String}}"
                    " AND toDate(date) = {day:Date} GROUP BY resource_id",
                    parameters={"tenant": tenant, "day": day},
                ).result_rows
            }
        )
    return copies


def registered(data_dir: Path, thanos_url: str, scenario: dict[str, Any]) -> Settings:
    """Settings over `data_dir` with the scenario's clusters registered and the schema made."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(data_dir), "THANOS_URL": thanos_url})
    demo.register_clusters(settings, scenario)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    return settings


@contextmanager
def celery_costing(
    root: Path, clusters: int, days: int, worker_names: tuple[str, ...] = WORKERS
) -> Iterator[Costing]:
    """Everything up and the tenants registered; all stopped on leaving."""
    tsdb, _, scenario = simulated_history(root, clusters, days, SCRAPE_INTERVAL_S)
    with ExitStack() as stack:
        prometheus = stack.enter_context(PrometheusServer(tsdb))
        settings = registered(root / "data", prometheus.url, scenario)
        postgres, redis = stack.enter_context(broker_and_database(root))
        airflow = CeleryAirflowStack(
            root / "airflow",
            postgres,
            redis,
            {
                "K8SCOST_DATA_DIR": str(settings.data_dir),
                "THANOS_URL": prometheus.url,
                "PROMQL_RETRIES": "0",
            },
            worker_names,
        )
        stack.callback(airflow.stop)
        airflow.start()
        yield Costing(airflow, prometheus, settings, scenario, root)
