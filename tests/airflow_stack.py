"""A real Airflow for end-to-end tests: api-server, dag-processor and scheduler (LocalExecutor).

Airflow 3 tasks talk to the api-server (the execution API), and only the
dag-processor puts DAG files into the metadata database, so all three run, as
separate processes on a private AIRFLOW_HOME with SQLite, exactly as
`airflow standalone` runs them. Scheduled runs are off
(`use_job_schedule=False`) so only the runs a test creates (backfill, trigger)
happen, the retry delay is 1 s so a failing task exhausts its retries fast, and the
scheduler sleeps 0.2 s, not 1 s, after a loop that queued nothing, so each step of a run
follows the one before sooner.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import requests

from devtools.localprom import free_port

REPO = Path(__file__).resolve().parents[1]
POOLS_FILE = REPO / "deploy" / "airflow" / "pools.json"  # what every deployment imports
AIRFLOW = Path(sys.executable).with_name("airflow")
PARTS = ("api-server", "dag-processor", "scheduler")
FINISHED = ("success", "failed")
# Hang guards only (the whole 3-day backfill takes about a minute).
READY_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300
# SQLite lets one writer at a time, and pysqlite waits 5 s for the lock by default:
# an `airflow backfill create` beside a busy scheduler could fail with "database is
# locked". Airflow puts $AIRFLOW_HOME/config on sys.path, so the connect args live there.
# The busy timeout does not cover a read transaction that must become a write while
# another writer holds the lock (SQLite answers "locked" at once, to avoid a deadlock),
# which a CI run met once; in WAL mode readers and the writer do not block each other.
SQLITE_ARGS_MODULE = "k8scost_test_sqlite"
# A task's calls to the API server time out after 5 s by default, and the first one, on a
# fresh API server of a loaded 2-core machine, can take longer: the task then fails before
# it starts, and its retry waits. Airflow's advice under load is a longer timeout.
EXECUTION_API_TIMEOUT_S = 60
# The scheduler sleeps this long after a loop that queued nothing (Airflow's default 1 s):
# a task's successor waits up to that long to be queued, at every step of a run's chain.
SCHEDULER_IDLE_SLEEP_S = 0.2
# The DAG processor parses each DAG file again this long after its last parse (Airflow's
# default 30 s), each parse a process of its own that imports the file and writes the
# serialized DAG. The files do not change while a test's stack runs, so only the first
# parse counts; the rest took CPU from the tasks and write locks from SQLite.
DAG_REPARSE_INTERVAL_S = 3600
SQLITE_BUSY_TIMEOUT_S = 60
BACKFILL_ATTEMPTS = 3


class AirflowStack:
    """Airflow's parts over one home directory; `extra_env` reaches every task."""

    def __init__(self, home: Path, extra_env: Mapping[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))},
            "PATH": f"{AIRFLOW.parent}:{os.environ['PATH']}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(EXECUTION_API_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": str(SCHEDULER_IDLE_SLEEP_S),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(DAG_REPARSE_INTERVAL_S),
            **self._database_env(),
            **extra_env,
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def _database_env(self) -> dict[str, str]:
        """The metadata database's settings: SQLite under the home, with a busy timeout."""
        config = self.home / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / f"{SQLITE_ARGS_MODULE}.py").write_text(
            f'CONNECT_ARGS = {{"timeout": {SQLITE_BUSY_TIMEOUT_S}}}\n', encoding="utf-8"
        )
        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{SQLITE_ARGS_MODULE}.CONNECT_ARGS"}

    def _prepare_database(self) -> None:
        """After `db migrate`: WAL, so that readers and the writer do not block each other."""
        with sqlite3.connect(self.home / "airflow.db") as metadata:
            assert metadata.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)

    def cli(self, *args: str) -> str:
        """Run an `airflow` command (as an operator would); returns its output."""
        done = self._run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AIRFLOW), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def start(self) -> AirflowStack:
        self.cli("db", "migrate")
        self._prepare_database()
        (self.home / "process-logs").mkdir()
        self.processes = [self._spawn(part, [part]) for part in PARTS]
        self._wait_for_dags("k8s_costs_daily", "k8s_costs_repair")
        for name, pool in json.loads(POOLS_FILE.read_text()).items():
            self.api("post", "/pools", json={"name": name, "slots": pool["slots"]})
        return self

    def restart_scheduler(self, **env: str) -> None:
        """Restart the scheduler alone with more settings (e.g. scheduled runs on, so that
        Asset-triggered runs are created); the api-server and dag-processor keep running."""
        self._stop_scheduler()
        self._start_scheduler("scheduler-restarted", **env)

    def backfill(self, *args: str) -> None:
        """`airflow backfill create ARGS`, as an operator runs it, with the scheduler held.

        Airflow creates a backfill's runs one savepoint each. On SQLite the outermost
        savepoint is a deferred transaction of its own: it reads, then must turn into a
        write, and if another process committed in between SQLite answers "database is
        locked" at once (the busy timeout cannot help). The scheduler starting the first
        runs is that other process, which a CI run met. Held, it cannot commit; a rare
        dag-processor heartbeat still can, and then Airflow deletes the partial backfill
        "so the user can retry" (models/backfill.py), which this does, as a user would.
        """
        self._stop_scheduler()
        try:
            for _ in range(BACKFILL_ATTEMPTS):
                done = self._run("backfill", "create", *args)
                if done.returncode == 0 or "database is locked" not in done.stderr:
                    break
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            self._start_scheduler("scheduler-after-backfill")

    def _stop_scheduler(self) -> None:
        old = self.processes[PARTS.index("scheduler")]
        os.killpg(old.pid, signal.SIGTERM)
        try:
            old.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(old.pid, signal.SIGKILL)
            old.wait()

    def _start_scheduler(self, log_name: str, **env: str) -> None:
        self.env = {**self.env, **env}
        self.processes[PARTS.index("scheduler")] = self._spawn(log_name, ["scheduler"])

    def _spawn(self, log_name: str, args: list[str]) -> subprocess.Popen[bytes]:
        """`airflow ARGS` in a session of its own, its output in process-logs/LOG_NAME.log."""
        with (self.home / "process-logs" / f"{log_name}.log").open("wb") as log:
            return subprocess.Popen(
                [str(AIRFLOW), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # so stop() reaches the task processes too
            )

    def _wait_for_dags(self, *dag_ids: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for dag_id in dag_ids:
            while True:
                try:
                    if requests.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=5).ok:
                        break
                except requests.ConnectionError:
                    pass
                dead = [p.args[1] for p in self.processes if p.poll() is not None]
                assert not dead and time.monotonic() < deadline, (dag_id, dead, self.home)
                time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes:
            with suppress(ProcessLookupError):  # a part that died already
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call to Airflow's REST API (v2); returns the decoded body."""
        response = requests.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        assert response.ok, (response.status_code, response.text)
        return response.json()

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Trigger a run with params, as the UI's trigger form does; returns its run id."""
        body = {"logical_date": None, "conf": conf}
        return self.api("post", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("get", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def wait(
        self, dag_id: str, run_ids: list[str], timeout_s: float = RUN_TIMEOUT_S
    ) -> dict[str, str]:
        """Wait until the runs finish; returns run id -> final state."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = {run["dag_run_id"]: run["state"] for run in self.runs(dag_id)}
            if all(states.get(run_id) in FINISHED for run_id in run_ids):
                return {run_id: states[run_id] for run_id in run_ids}
            assert time.monotonic() < deadline, (states, self.home)
            time.sleep(1)

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, str], str]:
        """(task id, rendered map index) -> state for one run."""
        found = self.api("get", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {
            (ti["task_id"], ti.get("rendered_map_index") or str(ti["map_index"])): ti["state"]
            for ti in found["task_instances"]
        }
