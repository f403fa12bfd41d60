"""gunicorn driven from Python: the one runner of `k8scost api` and `k8scost diproxy`.

Threaded workers (gthread): a request mostly waits on a store or a receiver. Every
request is logged (gunicorn's access log on stdout: address, request line, status,
size, duration).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

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
