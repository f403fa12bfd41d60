"""`k8scost api` and `k8scost diproxy` on loopback against slow and malformed clients.

Each server is the real one (console script, gunicorn, the HttpWorker), with its
defaults: one worker process of four threads. A slow client sends its request head a
byte a second; the server must go on answering everyone else. What the server layer
refuses (a request line or a header too large, a malformed header) is a JSON problem,
and no answer names the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.localprom import free_port
from tests.e2e.test_api_server import wait_until_live

pytestmark = pytest.mark.e2e

K8SCOST = Path(sys.executable).with_name("k8scost")
SLOW_CLIENTS = 32
# The criterion: /livez answers within a second while the slow clients trickle.
LIVEZ_TIMEOUT_S = 1.0
SLOW_HEAD = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 64 + b"\r\n\r\n"


@pytest.fixture(scope="module", params=["api", "diproxy"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The command `request.param` serving on a free loopback port; its URL once /livez answers."""
    root = tmp_path_factory.mktemp(request.param)
    port = free_port()
    log = root / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(K8SCOST), request.param, "--port", str(port)],
            env={**os.environ, "K8SCOST_DATA_DIR": str(root / "data")},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url)
        assert process.poll() is None, f"{request.param} did not start: {log.read_text()[-2000:]}"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


class SlowClients:
    """`count` connections that each send one byte of a request head per second."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        for byte in SLOW_HEAD:
            for client in self.sockets:
                with contextlib.suppress(OSError):  # a server may cut a slow client
                    client.send(bytes([byte]))
            if self.stop.wait(1.0):
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for client in self.sockets:
            client.close()


def test_slow_clients_do_not_stop_livez(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    slow = SlowClients(port, SLOW_CLIENTS)
    try:
        time.sleep(2.5)  # every slow client is inside its head, a few bytes in
        for _ in range(3):
            with urllib.request.urlopen(f"{server}/livez", timeout=LIVEZ_TIMEOUT_S) as answer:
                assert answer.status == 200
    finally:
        slow.close()


def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client library to fix them); status, headers, body."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (ln.split(":", 1) for ln in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        (b"GET /livez HTTP/1.1\r\nHost: h\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET /livez HTTP/1.1\r\nHost: h\r\n" + b"X-Many: m\r\n" * 101 + b"\r\n", 431),
        (b"GET /livez HTTP/1.1\r\nHost: h\r\nBad Header: y\r\n\r\n", 400),
        (b"GET /livez HTTP/1.1\r\nHost: h\r\nX-Nul: a\x00b\r\n\r\n", 400),
    ],
    ids=["request-line", "header-field", "header-count", "space-in-name", "nul-in-value"],
)
def test_the_server_layer_refuses_with_a_json_problem(
    server: str, request_bytes: bytes, status: int
) -> None:
    answered, headers, body = raw_exchange(server, request_bytes)
    assert answered == status
    assert headers["content-type"] == "application/json"
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    assert "server" not in headers


def test_no_answer_names_the_server(server: str) -> None:
    status, headers, _ = raw_exchange(
        server, b"GET /livez HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    assert status == 200
    assert "server" not in headers
    status, headers, _ = raw_exchange(
        server, b"GET /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    assert status == 404
    assert "server" not in headers
