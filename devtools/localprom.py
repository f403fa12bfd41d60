"""A local Prometheus: backfill simulated metrics and serve them over the PromQL HTTP API.

Prometheus answers the same /api/v1/query endpoints as Thanos Query, so the demo and
the end-to-end tests run the pipeline against a real PromQL engine on this machine.
Both binaries come from Debian's `prometheus` package (2.x).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import requests

PROMETHEUS_BIN = Path("/usr/bin/prometheus")
MISSING_HINT = "install Debian's prometheus package (apt-get install -y prometheus)"
# promtool cuts 2h blocks by default and re-parses the whole input once per block
# (a 2-day backfill: 24 passes); one large block needs one pass. The value
# is rounded down to 486h (2h x 3^5), which Prometheus serves and compacts normally.
BACKFILL_MAX_BLOCK_DURATION = "486h"


class LocalPrometheusError(RuntimeError):
    """promtool or prometheus is missing, failed, or did not become ready."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def backfill(openmetrics_file: Path, tsdb_dir: Path) -> None:
    """Turn an OpenMetrics file into TSDB blocks in `tsdb_dir` (a Prometheus data dir)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise LocalPrometheusError(f"promtool not found: {MISSING_HINT}")
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            f"--max-block-duration={BACKFILL_MAX_BLOCK_DURATION}",
            str(openmetrics_file),
            str(tsdb_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-2000:]
        raise LocalPrometheusError(
            f"promtool backfill of {openmetrics_file} failed ({result.returncode}): {output}"
        )


class PrometheusServer:
    """A Prometheus process on 127.0.0.1 over `tsdb_dir`, as a context manager.

    With `agent=True` it runs in agent mode (scrape and remote-write, no local queries),
    as a customer's cluster Prometheus may; `remote_write` is the config's remote_write list.

    Its generated config and its log sit beside the data dir (`<dir>.prometheus.yml`,
    `<dir>.prometheus.log`) so that the log outlives the process for diagnosis.
    """

    def __init__(
        self,
        tsdb_dir: Path,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        scrape_configs: Sequence[dict[str, Any]] = (),
        ready_timeout_s: float = 30.0,
        agent: bool = False,
        remote_write: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.tsdb_dir = Path(tsdb_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.scrape_configs = list(scrape_configs)
        self.ready_timeout_s = ready_timeout_s
        self.agent = agent
        self.remote_write = list(remote_write)
        self.config_path = self.tsdb_dir.with_name(f"{self.tsdb_dir.name}.prometheus.yml")
        self.log_path = self.tsdb_dir.with_name(f"{self.tsdb_dir.name}.prometheus.log")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrometheusServer:
        """Start the server and return once /-/ready answers 200."""
        if not PROMETHEUS_BIN.exists():
            raise LocalPrometheusError(f"{PROMETHEUS_BIN} not found: {MISSING_HINT}")
        self.tsdb_dir.mkdir(parents=True, exist_ok=True)
        # JSON is valid YAML, so no YAML library is needed to write the config.
        config = {
            "global": {"scrape_interval": "60s"},
            "scrape_configs": self.scrape_configs,
            "remote_write": self.remote_write,
        }
        self.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(PROMETHEUS_BIN),
                    f"--config.file={self.config_path}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    *self._storage_args(),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()
        return self

    def _storage_args(self) -> list[str]:
        """Agent mode keeps only a WAL for remote write and refuses the --storage.tsdb.* flags."""
        if self.agent:
            return ["--enable-feature=agent", f"--storage.agent.path={self.tsdb_dir}"]
        return [f"--storage.tsdb.path={self.tsdb_dir}", "--storage.tsdb.retention.time=3650d"]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        process = self._process
        while time.monotonic() < deadline:
            if process is None or process.poll() is not None:
                self._fail(f"exited with code {process and process.returncode}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self._fail(f"was not ready after {self.ready_timeout_s:.0f} s")

    def _fail(self, what: str) -> NoReturn:
        self.stop()
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        raise LocalPrometheusError(f"prometheus on {self.url} {what}; log {self.log_path}:\n{tail}")

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the running server has used so far (Linux, /proc): what
        a benchmark charges to the server, whatever else loads the machine's cores."""
        if self._process is None:
            raise LocalPrometheusError("the server is not running")
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
