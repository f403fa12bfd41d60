"""gunicorn, driven from Python, serving the API: `k8scost api` and `python -m api`.

On ClickHouse and MongoDB servers the API is served from the calling process:
gunicorn forks its workers as usual, and each builds its own app after the fork
(gunicorn loads the app in the worker), so no database client crosses a process
boundary.

The embedded stores alone need more. A process that has already used chdb or
montydb must not fork (chdb's engine threads and montydb's SQLite state do not
survive it: the worker hangs on its first query; `k8scost demo` costs days before
serving). So with either configured, `spawn` starts a fresh interpreter
(`python -m api`) with the stores' settings in its environment, and waits for it,
passing SIGTERM on.

Threads serve requests that an event loop has read whole (etl/core/httpworker.py):
a request mostly waits on ClickHouse and MongoDB. The default is one worker process
because an embedded ClickHouse (chdb) directory can be open in one process at a
time: more workers would pass it back and forth (each worker's pool yields it to a
waiting process, etl/storage/clickhouse.py). With a ClickHouse server, raise
`--workers`. Every request is logged (the access log on stdout: address, request
line, status, size, duration).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from flask import Flask

from etl.core import serve
from etl.core.config import Settings
from etl.core.http1 import ServerLimits
from etl.storage.clickhouse import chdb_path

# registry.open_database's scheme for the embedded MongoDB stand-in.
MONTYDB_SCHEME = "montydb://"
# Allocations of containers (net of frees) between two young-generation collections.
# An answer built as Python objects (CSV: a dict per item, up to ~50k) is walked by
# every young collection, and at CPython's default of 700 the dict-based answer paid
# several of them and an older-generation one. The JSON path, laid out by Arrow,
# allocates few containers. Above a request's peak, collections come from lasting
# growth only (docs/api.md). Whatever the stores: the cost is the answer's objects.
GC_YOUNG_THRESHOLD = 20_000
# What the server enforces before the app runs; the OpenAPI document lists it (api/app.py).
SERVER_LIMITS = ServerLimits()


def embeds_a_store(settings: Settings) -> bool:
    """Whether `settings` choose chdb or montydb, whose in-process state forbids a fork."""
    return chdb_path(settings.clickhouse_dsn) is not None or settings.mongo_uri.startswith(
        MONTYDB_SCHEME
    )


def tune_gc() -> None:
    """Raise the young GC threshold (never lower it) for the process that serves.

    Process-wide, so it is set by the serving entry point, not by the app factory
    that tests and tools also call; gunicorn's forked workers inherit it.
    """
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), *older)


def run_here(
    factory: Callable[[], Flask], host: str, port: int, workers: int, threads: int
) -> None:
    """Serve the app built by `factory` from this process until SIGTERM/SIGINT."""
    tune_gc()
    serve.run(factory, host, port, workers, threads, SERVER_LIMITS)


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
