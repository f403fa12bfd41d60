"""Airflow on its CeleryExecutor: PostgreSQL, Redis, and two Celery workers (issue #29).

What docs/production.md describes for more than one machine, run on this one: the
metadata database is a private PostgreSQL, the broker a private Redis
(devtools/localservers.py), and tasks run in two `airflow celery worker` processes,
each with its own session, so that a test can kill one with everything it runs (a
lost node) and start it again. The scheduler, DAG processor and API server are the
ones of tests/airflow_stack.py.

Their settings (devtools/localservers.py `celery_env`) are `make airflow-celery`'s: a
task whose worker died stops heartbeating, and the scheduler fails it after 20 s and
retries it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from devtools import sessions
from devtools.localservers import PostgresServer, RedisServer, celery_env, celery_worker_args
from tests.airflow_stack import READY_TIMEOUT_S, AirflowStack

WORKERS = ("worker1", "worker2")
STOP_GRACE_S = 30


class CeleryAirflowStack(AirflowStack):
    """Airflow with the CeleryExecutor on `postgres` and `redis`, and `worker_names` workers."""

    def __init__(
        self,
        home: Path,
        postgres: PostgresServer,
        redis: RedisServer,
        extra_env: Mapping[str, str],
        worker_names: tuple[str, ...] = WORKERS,
    ) -> None:
        self.postgres, self.redis = postgres, redis
        self.worker_names = worker_names
        super().__init__(home, extra_env)
        self.env.update(celery_env(postgres, redis))
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.worker_starts: dict[str, int] = {}

    def _database_env(self) -> dict[str, str]:
        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url}  # before migrate

    def _prepare_database(self) -> None:
        """PostgreSQL needs nothing after `db migrate`."""

    def start(self) -> CeleryAirflowStack:
        super().start()
        for worker in self.worker_names:
            self.start_worker(worker)
        return self

    def start_worker(self, worker: str) -> None:
        """Start (or restart) a Celery worker; returns once it consumes from the broker."""
        start = self.worker_starts[worker] = self.worker_starts.get(worker, 0) + 1
        log_name = f"{worker}-{start}"
        self.workers[worker] = self._spawn(log_name, celery_worker_args(worker))
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
