"""gunicorn, driven from Python, serving the API: `k8scost api`.

gunicorn forks its workers, and a process that has already used the embedded
stores must not fork (chdb's engine threads and montydb's SQLite state do not
survive it: the worker hangs on its first query; `k8scost demo` costs days before
serving). So `spawn` starts a fresh interpreter (`python -m api`) with the
stores' settings in its environment, and waits for it, passing SIGTERM on.

Threaded workers (gthread): a request mostly waits on ClickHouse and MongoDB. The
default is one worker process because an embedded ClickHouse (chdb) directory can
be open in one process at a time: more workers would pass it back and forth (each
worker's pool yields it to a waiting process, etl/storage/clickhouse.py). With a ClickHouse
server, raise `--workers`. Each worker builds its own app after the
fork, so no database client crosses a process boundary. Every request is logged
(gunicorn's access log on stdout: address, request line, status, size, duration).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from etl.core.config import Settings


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
