"""`make airflow` / `make airflow-celery`: Airflow with the project's DAGs, and the API beside
it, on the embedded defaults (chdb, montydb, a local archive) under the data directory.

Without THANOS_URL it first simulates 3 clusters over the 3 days ending yesterday
into a local Prometheus (as `make demo` does) and registers them, so the daily
run that Airflow starts at once (for yesterday) has data; with THANOS_URL set it
uses that endpoint and the accounts already registered.

Airflow's parts run as `airflow standalone` would run them (API server, scheduler, DAG
processor, triggerer; LocalExecutor on SQLite), but started here, each in a session of
its own, so that SIGTERM and Ctrl-C stop every one of them with every task it runs
(devtools/sessions.py). With `--celery` the executor is Celery, on a private
PostgreSQL and Redis, with two workers (devtools/localservers.py), as the scale test
runs it. Everything listens on 127.0.0.1 only (no worker log server: the API server
reads task logs from AIRFLOW_HOME), and the parts' output goes to
$AIRFLOW_HOME/process-logs/, so the console ends with the URLs, the sign-in and a curl.

Airflow's tasks and the API share one embedded ClickHouse directory, which one process
can open at a time: every unit of work (a task's load, an API request) opens a client
and closes it within the same call, and whoever finds the directory locked waits and
retries (etl/storage/clickhouse.py). See docs/airflow.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import requests

from api.auth import issue_token
from devtools import demo, sessions
from devtools.localservers import broker_and_database, celery_env, celery_worker_args
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POOLS_FILE = REPO / "deploy" / "airflow" / "pools.json"
API_PORT = os.environ.get("K8SCOST_API_PORT", "8000")
AIRFLOW_PORT = os.environ.get("K8SCOST_AIRFLOW_PORT", "8080")
PARTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
CELERY_WORKERS = ("worker1", "worker2")
READY_TIMEOUT_S = 300
# Airflow's scheduler can take over a minute to act on SIGTERM while tasks finish.
STOP_GRACE_S = 20
# Stopped after the rest: a task stopped with its scheduler or worker reports its end to the
# API server (the execution API), and retries for a while when that is gone already.
SERVING = ("api-server", "api")
SERVING_GRACE_S = 5
# A task's calls to the API server time out after 5 s by default; the first one, on a fresh
# API server of a busy laptop, can take longer, and the task then fails before it starts
# (its retry 5 minutes later). Airflow's advice under load is a longer timeout.
EXECUTION_API_TIMEOUT_S = "60"


class Stop(Exception):
    """SIGTERM arrived: leave as Ctrl-C does, through every cleanup."""


def _stop(*_: object) -> NoReturn:
    raise Stop


def airflow_env(settings: Settings) -> dict[str, str]:
    """The environment of Airflow's processes and the API: one data dir, the repo's DAGs."""
    url = f"http://127.0.0.1:{AIRFLOW_PORT}"
    return {
        **os.environ,
        # Airflow starts some of its parts (task processes) as plain `airflow`.
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", str(settings.data_dir / "airflow")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # 32 worker processes by default: too many for 2 cores and the chdb lock.
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": AIRFLOW_PORT,
        "AIRFLOW__API__BASE_URL": url,
        # Every part must sign and check the tasks' tokens with one secret.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": EXECUTION_API_TIMEOUT_S,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "THANOS_URL": settings.thanos_url,
    }


def _run(env: dict[str, str], *command: str) -> None:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def _pools(env: dict[str, str]) -> None:
    """The pools the DAGs use, from the file the production stack imports too."""
    for name, pool in json.loads(POOLS_FILE.read_text()).items():
        _run(env, "airflow", "pools", "set", name, str(pool["slots"]), pool["description"])


def _spawn(env: dict[str, str], logs: Path, name: str, command: list[str]) -> subprocess.Popen:
    with (logs / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own session: stopped with all it starts
        )


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    # A second Ctrl-C or SIGTERM must not cut the cleanup short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stopping ...", flush=True)
    running = [process.pid for name, process in processes.items() if name not in SERVING]
    sessions.stop(running, STOP_GRACE_S)
    serving = [process.pid for name, process in processes.items() if name in SERVING]
    sessions.stop(serving, SERVING_GRACE_S)
    for process in processes.values():
        process.wait()


def _wait_ready(processes: dict[str, subprocess.Popen], url: str, logs: Path) -> None:
    """Until Airflow's API server says its scheduler is healthy and our API answers."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead:
            raise SystemExit(f"{', '.join(dead)} exited: see {logs}")
        try:
            health = requests.get(f"{url}/api/v2/monitor/health", timeout=5).json()
            requests.get(f"http://127.0.0.1:{API_PORT}/docs", timeout=5)
            if health["scheduler"]["status"] == "healthy":
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"Airflow not ready after {READY_TIMEOUT_S} s: see {logs}")
        time.sleep(1)


def _print_block(env: dict[str, str], organizations: list[str], db, logs: Path) -> None:
    home = Path(env["AIRFLOW_HOME"])
    now = int(time.time())
    lines = [
        "",
        f"Airflow  http://127.0.0.1:{AIRFLOW_PORT}  ({env['AIRFLOW__CORE__EXECUTOR']})",
        f"Sign in  user admin, password in {home / 'simple_auth_manager_passwords.json.generated'}",
        f"API      http://127.0.0.1:{API_PORT}/docs",
    ]
    if organizations:
        token = issue_token(db, organizations[0])
        lines.append(
            f"curl -s -H 'Authorization: Bearer {token}' 'http://127.0.0.1:{API_PORT}"
            f"/restapi/v2/organizations/{organizations[0]}/k8s_import_status"
            f"?start_date={now - 7 * 86400}&end_date={now}'"
        )
    lines.append(f"Logs     {logs}/   Stop: Ctrl-C")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--celery", action="store_true", help="CeleryExecutor on PostgreSQL + Redis, 2 workers"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    settings = Settings.from_env()
    try:
        with ExitStack() as stack:
            if "THANOS_URL" not in os.environ:
                print(f"simulating 3 clusters x 3 days into {settings.data_dir} ...", flush=True)
                url, scenario = stack.enter_context(
                    demo.simulated_thanos(settings, clusters=3, days=3, scrape_interval_s=300)
                )
                settings = settings.with_overrides(thanos_url=url)
                demo.register_clusters(settings, scenario)
            with connect(settings.clickhouse_dsn) as client:
                warehouse.init_schema(client)
            db = registry.open_database(settings.mongo_uri, settings.mongo_db)
            organizations = sorted({a.organization_id for a in registry.k8s_accounts(db)})
            env = airflow_env(settings)
            logs = Path(env["AIRFLOW_HOME"]) / "process-logs"
            logs.mkdir(parents=True, exist_ok=True)
            commands = {name: ["airflow", *part] for name, part in PARTS.items()}
            if args.celery:
                print("starting PostgreSQL and Redis on loopback ...", flush=True)
                postgres, redis = stack.enter_context(broker_and_database(logs.parent))
                env.update(celery_env(postgres, redis))
                for worker in CELERY_WORKERS:
                    commands[worker] = ["airflow", *celery_worker_args(worker)]
            print(f"starting Airflow (logs in {logs}) ...", flush=True)
            _run(env, "airflow", "db", "migrate")
            _pools(env)
            commands["api"] = ["k8scost", "api", "--host", "127.0.0.1", "--port", API_PORT]
            processes: dict[str, subprocess.Popen] = {}
            stack.callback(_stop_all, processes)
            for name, command in commands.items():
                processes[name] = _spawn(env, logs, name, command)
            _wait_ready(processes, env["AIRFLOW__API__BASE_URL"], logs)
            _print_block(env, organizations, db, logs)
            while all(process.poll() is None for process in processes.values()):
                time.sleep(1)
            dead = [name for name, process in processes.items() if process.poll() is not None]
            print(f"{', '.join(dead)} exited: see {logs}", flush=True)
    except (KeyboardInterrupt, Stop):
        pass


if __name__ == "__main__":
    main()
