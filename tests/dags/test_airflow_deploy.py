"""The Airflow configuration of the production stack, checked against the Airflow installed here.

docker-compose.yaml and deploy/airflow/ configure Airflow through AIRFLOW__SECTION__KEY
variables and a pools file; a misspelt key is silently ignored by Airflow, and a pool the
DAG names but nobody created leaves its tasks waiting forever. So: every key of the core
sections must be one Airflow knows, and the pools file must import into a real metadata
database and create the pool the DAG's tasks run in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from airflow.configuration import conf
from airflow.models.pool import Pool
from k8scost_airflow.policy import PROMQL_POOL

from devtools.localservers import TASK_MODULES, PostgresServer, RedisServer, celery_env

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_ENV = REPO / "deploy" / "airflow" / "airflow.env"
POOLS = REPO / "deploy" / "airflow" / "pools.json"
# Sections of Airflow core; [celery] belongs to the Celery provider, which the stack's
# image has and this test environment does not, so its keys are not checked here.
CORE_SECTIONS = {"core", "database", "scheduler", "api", "api_auth", "logging"}
KEY = re.compile(r"^AIRFLOW__([A-Z_]+?)__([A-Z_]+)$")


def _configured_keys() -> set[str]:
    keys = {
        line.split("=", 1)[0]
        for line in AIRFLOW_ENV.read_text().splitlines()
        if line and not line.startswith("#")
    }
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    keys |= {key for key in compose["x-airflow"]["environment"] if key.startswith("AIRFLOW__")}
    return keys


def test_every_core_airflow_setting_of_the_stack_exists():
    checked = 0
    for key in sorted(_configured_keys()):
        match = KEY.match(key)
        assert match, key
        section, option = match[1].lower(), match[2].lower()
        if section in CORE_SECTIONS:
            # The documented options, including those without a default value.
            assert option in conf.configuration_description[section]["options"], key
            checked += 1
    assert checked >= 12


def _airflow(*args: str) -> subprocess.CompletedProcess:
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow), *args],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
        timeout=300,
    )


def test_the_pools_file_creates_the_pool_the_dag_uses(airflow_db):
    imported = _airflow("pools", "import", str(POOLS))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    # Read back here, from the metadata database the import wrote (a second `airflow`
    # process would only add its start-up).
    pool = Pool.get_pool(PROMQL_POOL)
    expected = json.loads(POOLS.read_text())[PROMQL_POOL]
    assert pool is not None
    assert (pool.slots, pool.include_deferred) == (expected["slots"], expected["include_deferred"])


def test_the_stack_s_celery_workers_are_set_as_the_tested_ones():
    """The settings the scale test proves a killed worker with (late acks, prefetch 1)
    and the preload of what every task imports are the production stack's too."""
    configured = dict(
        line.split("=", 1)
        for line in AIRFLOW_ENV.read_text().splitlines()
        if line and not line.startswith("#")
    )
    tested = celery_env(PostgresServer(), RedisServer(Path("unstarted")))
    for key in (
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER",
        "AIRFLOW__CELERY__TASK_ACKS_LATE",
    ):
        assert configured[key] == tested[key], key
    assert json.loads(configured["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]) == {
        "imports": list(TASK_MODULES)
    }
