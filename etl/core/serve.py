"""gunicorn driven from Python: the one runner of `k8scost api` and `k8scost diproxy`.

gunicorn runs the master (forking, restarts, signals); the workers are
etl/core/httpworker.py's: an event loop reads each request whole, within the limits
and deadlines of `ServerLimits`, and only then a thread (`--threads` per worker) runs
the app, which mostly waits on a store or a receiver. So a slow client costs a
coroutine, never a thread. Every request is logged (on stdout: address, request line,
status, size, duration).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

from etl.core.http1 import ServerLimits

DEFAULT_WORKERS = 1
DEFAULT_THREADS = 4
WORKER_CLASS = "etl.core.httpworker.HttpWorker"


class _Server(BaseApplication):
    def __init__(
        self, factory: Callable[[], Flask], options: dict[str, object], limits: ServerLimits
    ) -> None:
        self._factory = factory
        self._options = options
        self.limits = limits  # read by the workers (HttpWorker), which get this object
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def run(
    factory: Callable[[], Flask],
    host: str,
    port: int,
    workers: int,
    threads: int,
    limits: ServerLimits | None = None,
) -> None:
    """Serve the app built by `factory` on host:port until SIGTERM/SIGINT."""
    options: dict[str, object] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "accesslog": "-",
        # The worker's heartbeat comes from its event loop, which a long request does
        # not block; this is how long a stuck loop lives.
        "timeout": 120,
        # gunicorn's control socket is one path per user: a second server would clash.
        "control_socket_disable": True,
    }
    _Server(factory, options, limits or ServerLimits()).run()
