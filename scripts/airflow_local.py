"""`make airflow`: Airflow standalone with the project's DAGs, and the API beside it, on the
embedded defaults (chdb, montydb, a local archive) under the data directory.

Without THANOS_URL it first simulates 3 clusters over the 3 days ending yesterday
into a local Prometheus (as `make demo` does) and registers them, so the daily
run that Airflow starts at once (for yesterday) has data; with THANOS_URL set it
uses that endpoint and the accounts already registered.

Both processes share one embedded ClickHouse directory, which one process can
open at a time: every unit of work (a task's load, an API request) opens a client
and closes it within the same call, and whoever finds the directory locked waits
and retries (etl/storage/clickhouse.py). Airflow's task processes and the API's workers
therefore take turns, each holding the lock for milliseconds to a second; no
long-lived client exists anywhere. See docs/airflow.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from api.auth import issue_token
from devtools import demo
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POOLS_FILE = REPO / "deploy" / "airflow" / "pools.json"
API_PORT = os.environ.get("K8SCOST_API_PORT", "8000")


def airflow_env(settings: Settings) -> dict[str, str]:
    """The environment of Airflow's processes and the API: one data dir, the repo's DAGs."""
    return {
        **os.environ,
        # `airflow standalone` starts its parts as plain `airflow`.
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", str(settings.data_dir / "airflow")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # 32 worker processes by default: too many for 2 cores and the chdb lock.
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "THANOS_URL": settings.thanos_url,
    }


def _run(env: dict[str, str], *command: str) -> None:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def _pools(env: dict[str, str]) -> None:
    """The pools the DAGs use, from the file the production stack imports too."""
    for name, pool in json.loads(POOLS_FILE.read_text()).items():
        _run(env, "airflow", "pools", "set", name, str(pool["slots"]), pool["description"])


def main() -> None:
    settings = Settings.from_env()
    organizations: list[str] = []
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
        _run(env, "airflow", "db", "migrate")
        _pools(env)
        processes = [
            subprocess.Popen(["k8scost", "api", "--port", API_PORT], env=env),
            subprocess.Popen(["airflow", "standalone"], env=env),
        ]
        home = Path(env["AIRFLOW_HOME"])
        print(
            "\nAirflow: http://127.0.0.1:8080 (user admin, password in "
            f"{home / 'simple_auth_manager_passwords.json.generated'})\n"
            f"API:     http://127.0.0.1:{API_PORT}/docs",
            flush=True,
        )
        for organization in organizations:
            token = issue_token(db, organization)
            print(
                f"  curl -s -H 'Authorization: Bearer {token}' 'http://127.0.0.1:{API_PORT}"
                f"/restapi/v2/organizations/{organization}/k8s_import_status"
                f"?start_date={int(time.time()) - 7 * 86400}&end_date={int(time.time())}'",
                flush=True,
            )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait()


if __name__ == "__main__":
    main()
