"""Airflow on its CeleryExecutor: PostgreSQL, Redis, and two Celery workers (issue #29).

What docs/production.md describes for more than one machine, run on this one: the
metadata database is a private PostgreSQL, the broker a private Redis
(devtools/localservers.py), and tasks run in two `airflow celery worker` processes,
each with its own session, so that a test can kill one with everything it runs (a
lost node) and start it again. The scheduler, DAG processor and API server are the
ones of tests/airflow_stack.py.

A task whose worker died stops heartbeating; the scheduler fails it after
HEARTBEAT_TIMEOUT_S (Airflow's default is 300 s) and it is retried. Workers reserve
no more than they run (prefetch 1, late acks), so a dead worker holds no queued
tasks back either (TASK_QUEUED_TIMEOUT_S requeues them otherwise).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from devtools import sessions
from devtools.localservers import PostgresServer, RedisServer
from tests.airflow_stack import READY_TIMEOUT_S, AirflowStack

WORKERS = ("worker1", "worker2")
WORKER_CONCURRENCY = 2
HEARTBEAT_TIMEOUT_S = 20
TASK_QUEUED_TIMEOUT_S = 60
STOP_GRACE_S = 30


class CeleryAirflowStack(AirflowStack):
    """Airflow with the CeleryExecutor on `postgres` and `redis`; workers named WORKERS."""

    def __init__(
        self,
        home: Path,
        postgres: PostgresServer,
        redis: RedisServer,
        extra_env: Mapping[str, str],
    ) -> None:
        self.postgres, self.redis = postgres, redis
        super().__init__(home, extra_env)
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": postgres.result_backend,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(TASK_QUEUED_TIMEOUT_S),
            }
        )
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.worker_starts: dict[str, int] = {}

    def _database_env(self) -> dict[str, str]:
        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url}

    def _prepare_database(self) -> None:
        """PostgreSQL needs nothing after `db migrate`."""

    def start(self) -> CeleryAirflowStack:
        super().start()
        for worker in WORKERS:
            self.start_worker(worker)
        return self

    def start_worker(self, worker: str) -> None:
        """Start (or restart) a Celery worker; returns once it consumes from the broker.

        `--skip-serve-logs`: the workers share this machine's AIRFLOW_HOME, where the API
        server reads task logs directly, so no log server listens on every interface.
        """
        start = self.worker_starts[worker] = self.worker_starts.get(worker, 0) + 1
        log_name = f"{worker}-{start}"
        self.workers[worker] = self._spawn(
            log_name,
            [
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}@k8scost",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--skip-serve-logs",
            ],
        )
        log = self.home / "process-logs" / f"{log_name}.log"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b" ready." not in log.read_bytes():
            assert self.workers[worker].poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"{worker} not ready: {log}"
            time.sleep(0.5)

    def kill_worker(self, worker: str) -> list[int]:
        """SIGKILL the worker and every task process it runs, as when its node dies;
        returns the pids killed."""
        process = self.workers[worker]
        killed = sessions.members([process.pid])
        sessions.signal_all([process.pid], signal.SIGKILL)
        process.wait()
        return killed

    def stop(self) -> None:
        workers = [process.pid for process in self.workers.values()]
        sessions.stop(workers, STOP_GRACE_S)
        for process in self.workers.values():
            process.wait()
        super().stop()

    def backfill(self, *args: str) -> None:
        """`airflow backfill create ARGS` beside the running scheduler: PostgreSQL has none
        of SQLite's single-writer lock that the base class works around."""
        self.cli("backfill", "create", *args)
