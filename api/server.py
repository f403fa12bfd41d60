"""gunicorn, driven from Python, serving the API: `k8scost api`.

gunicorn forks its workers, and a process that has already used the embedded
stores must not fork (chdb's engine threads and montydb's SQLite state do not
survive it: the worker hangs on its first query; `k8scost demo` costs days before
serving). So `spawn` starts a fresh interpreter (`python -m api`) with the
stores' settings in its environment, and waits for it, passing SIGTERM on.

Threaded workers (gthread): a request mostly waits on ClickHouse and MongoDB. The
default is one worker process because an embedded ClickHouse (chdb) directory can
be open in one process at a time: more workers would pass it back and forth (each
worker's pool yields it to a waiting process, etl/clickhouse.py). With a ClickHouse
server, raise `--workers`. Each worker builds its own app after the
fork, so no database client crosses a process boundary. Every request is logged
(gunicorn's access log on stdout: address, request line, status, size, duration).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

from etl.config import Settings

DEFAULT_WORKERS = 1
DEFAULT_THREADS = 4
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class _Server(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, object]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def run(factory: Callable[[], Flask], host: str, port: int, workers: int, threads: int) -> None:
    """Serve the app built by `factory` on host:port until SIGTERM/SIGINT."""
    options: dict[str, object] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        # A cold catalog of 100k resources on montydb takes seconds to read.
        "timeout": 120,
        # gunicorn's control socket is one path per user: a second server would clash.
        "control_socket_disable": True,
    }
    _Server(factory, options).run()


def spawn(settings: Settings, host: str, port: int, workers: int, threads: int) -> int:
    """Serve the API from a fresh interpreter until it stops; its exit code."""
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "CLICKHOUSE_DSN": settings.clickhouse_dsn,
        "MONGO_URI": settings.mongo_uri,
        "MONGO_DB": settings.mongo_db,
    }
    arguments = ["--host", host, "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-m", "api", *arguments, "--threads", str(threads)], env=env
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the server too; let it finish shutting down
        return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
