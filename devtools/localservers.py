"""A private PostgreSQL and Redis on loopback: Airflow's metadata database and Celery broker.

Why here: the Celery stack the tests start (tests/celery_stack.py) and the one a person
starts (`make airflow-celery`) need the same two servers, from Debian's `postgresql` and
`redis-server` packages (scripts/setup.sh), without touching the system's services:
each runs on a free 127.0.0.1 port, with its data in a directory of its own, and is
gone with it when stopped.

PostgreSQL refuses to run as root, and CI runs as root: there the cluster is created
and run as Debian's `postgres` system user, in a fresh directory that user owns (a
pytest temporary directory is root's alone and cannot be entered by another user).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools import sessions
from devtools.localprom import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER_WHEN_ROOT = "postgres"
REDIS_SERVER = Path("/usr/bin/redis-server")
MISSING_HINT = "install Debian's postgresql and redis-server packages (scripts/setup.sh)"
DATABASE = "airflow"
READY_TIMEOUT_S = 30
STOP_GRACE_S = 10
WORKER_CONCURRENCY = 2
# Tasks the scheduler may have queued or running at once (Airflow's [core] parallelism): twice
# the slots of the two workers. The executor counts a task until the result backend reports
# it done, a poll after it ended, then queues the next at its next loop: at exactly the
# workers' slots each slot sat idle through both; this way the next task waits in Redis.
EXECUTOR_PARALLELISM = 2 * 2 * WORKER_CONCURRENCY
HEARTBEAT_TIMEOUT_S = 20
TASK_QUEUED_TIMEOUT_S = 60
# What every task imports: the plugins folder's hooks and the modules the DAG files call.
# A task is a fork of a pool process of its worker, so whatever the worker has not imported
# before forking its pool, each task imports again (pandas, boto3, the pipeline: most of a
# short task's time on 2 cores). The LocalExecutor's tasks are forks of the scheduler, which
# has them already (Airflow's plugins manager imports the plugins folder). None of these may
# start a thread at import that cannot survive a fork: chdb does, so it stays imported by the
# tasks that query, after the fork.
TASK_MODULES = (
    "k8scost_airflow.hooks",
    "etl.worker.orchestration",
    "etl.alerts.run",
    "api.showback",
)


class LocalServerError(RuntimeError):
    """A server binary is missing, or the server did not start."""


def _require(binary: Path) -> None:
    if not binary.exists():
        raise LocalServerError(f"{binary} not found: {MISSING_HINT}")


class PostgresServer:
    """A PostgreSQL cluster on 127.0.0.1 (trust auth, user and database `airflow`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root: Path | None = None
        where = f"{DATABASE}@127.0.0.1:{self.port}/{DATABASE}"
        self.url = f"postgresql+psycopg2://{where}"  # Airflow's SQL_ALCHEMY_CONN
        self.result_backend = f"db+postgresql://{where}"  # Celery's, for task states

    def _as_owner(self) -> dict[str, Any]:
        """Popen arguments that run a PostgreSQL command as the cluster's owner."""
        if os.geteuid() != 0:
            return {}
        return {"user": PG_USER_WHEN_ROOT, "group": PG_USER_WHEN_ROOT, "extra_groups": []}

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=120, **self._as_owner()
        )
        if done.returncode != 0:
            raise LocalServerError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        _require(PG_BIN / "initdb")
        self.root = Path(tempfile.mkdtemp(prefix="k8scost-postgres-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER_WHEN_ROOT, PG_USER_WHEN_ROOT)
        data = self.root / "data"
        self._run(
            str(PG_BIN / "initdb"), "-D", str(data), "-U", DATABASE, "--auth=trust", "-E", "UTF8"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / "postgres.log"),
            # Loopback only, and the socket in our own directory, not /var/run/postgresql.
            "-o",
            f"-p {self.port} -h 127.0.0.1 -k {self.root}",
            "-w",
            "start",
        )
        createdb = [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        self._run(*createdb, "-U", DATABASE, DATABASE)
        return self

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and remove its directory; safe to call twice."""
        root, self.root = self.root, None
        if root is None:
            return
        if (root / "data" / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class RedisServer:
    """A Redis on 127.0.0.1 that keeps nothing on disk (no RDB, no AOF)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        _require(REDIS_SERVER)
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "redis.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(REDIS_SERVER),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LocalServerError(f"redis on port {self.port} did not start: {log.name}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        import redis  # the Celery provider's client; only the Airflow extra installs it

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after STOP_GRACE_S); safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            sessions.stop([process.pid], STOP_GRACE_S)
            process.wait()


@contextmanager
def broker_and_database(directory: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """A running PostgreSQL and Redis for one Celery stack, stopped on leaving."""
    postgres = PostgresServer().start()
    try:
        redis = RedisServer(directory / "redis").start()
        try:
            yield postgres, redis
        finally:
            redis.stop()
    finally:
        postgres.stop()


def celery_env(postgres: PostgresServer, redis: RedisServer) -> dict[str, str]:
    """Airflow's settings for the CeleryExecutor on these servers.

    Workers reserve no more than they run (prefetch 1, late acks), so a worker that dies
    holds no queued task back; the scheduler fails a dead worker's running tasks after
    HEARTBEAT_TIMEOUT_S without a heartbeat (Airflow's default is 300 s) and retries them.
    Each worker imports TASK_MODULES before it forks its pool (Celery's `imports`, through
    the provider's `extra_celery_config`), so its tasks start with them.
    """
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(EXECUTOR_PARALLELISM),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": postgres.result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(TASK_QUEUED_TIMEOUT_S),
        "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"imports": list(TASK_MODULES)}),
    }


def celery_worker_args(name: str) -> list[str]:
    """`airflow` arguments of one Celery worker named `name`.

    `--skip-serve-logs`: on one machine the workers share AIRFLOW_HOME, where the API
    server reads task logs directly, so no log server listens on every interface.
    """
    return [
        "celery",
        "worker",
        "--celery-hostname",
        f"{name}@k8scost",
        "--concurrency",
        str(WORKER_CONCURRENCY),
        "--skip-serve-logs",
    ]
