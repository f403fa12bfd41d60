"""`make airflow` / `make airflow-celery` (scripts/airflow_local.py) started as a person starts
it, for the tests that use it as a person does: on a data directory of its own and free
ports, its console in a file, ready once the console's closing block is printed.

Its processes are found by their environment, which names the data directory: it
reaches every descendant, whatever session or process group each put itself in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from devtools.localprom import free_port

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "airflow_local.py"
READY_TIMEOUT_S = 420
LAST_LINE = "Stop: Ctrl-C"
STOP_WAIT_S = 60
GONE_AFTER_S = 30


@dataclass
class LocalStack:
    script: subprocess.Popen[bytes]
    data_dir: Path
    console: Path
    airflow_url: str

    def printed(self) -> list[str]:
        return self.console.read_text(errors="replace").splitlines()

    def password(self) -> str:
        """The UI's admin password, from the file the console names."""
        generated = self.data_dir / "airflow" / "simple_auth_manager_passwords.json.generated"
        return json.loads(generated.read_text())["admin"]

    def processes(self) -> list[psutil.Process]:
        """Live processes whose environment has K8SCOST_DATA_DIR=data_dir, the script's
        descendants, and theirs. Both ways, because a process that sets its title
        (Airflow's parts, gunicorn, PostgreSQL's children) overwrites its environment,
        and one that daemonizes (PostgreSQL) is no longer the script's descendant."""
        wanted = f"K8SCOST_DATA_DIR={self.data_dir}".encode()
        roots = []
        for process in psutil.process_iter():
            with suppress(OSError, psutil.Error):
                if wanted in Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0"):
                    roots.append(process)
        with suppress(psutil.Error):
            roots.append(psutil.Process(self.script.pid))
        found = {}
        for root in roots:
            with suppress(psutil.Error):
                for process in [root, *root.children(recursive=True)]:
                    found[process.pid] = process
        found.pop(self.script.pid, None)
        return [process for process in found.values() if alive(process)]


def _listening(processes: list[psutil.Process]) -> set[str]:
    pids = {process.pid for process in processes}
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    }


def check_block_then_sigterm(stack: LocalStack) -> None:
    """The console's closing block is short and says where to sign in, every socket is
    on 127.0.0.1; then SIGTERM (what a service manager, or `kill`, sends), and
    GONE_AFTER_S later no process the script started, nor any task those started, is
    left, and the script exited 0."""
    printed = stack.printed()
    block = printed[printed.index("") + 1 :]
    assert len(block) <= 6, printed  # URLs, sign-in, a curl, logs: nothing scrolls it away
    assert block[0].startswith(f"Airflow  {stack.airflow_url}")
    assert block[1].startswith("Sign in  user admin, password in ")
    assert any(line.startswith("curl -s -H 'Authorization: Bearer ") for line in block)
    started = stack.processes()
    assert len(started) >= 5  # the API, Airflow's parts, Prometheus (and the Celery stack)
    assert _listening(started) == {"127.0.0.1"}
    stack.script.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GONE_AFTER_S
    while (left := _still_running(started, stack)) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, left
    assert stack.script.wait(timeout=5) == 0


def _still_running(started: list[psutil.Process], stack: LocalStack) -> list[int]:
    """What is left of the processes seen before SIGTERM, and any new one of the stack's."""
    return [p.pid for p in [*started, *stack.processes()] if alive(p)]


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a killed process its parent has not reaped)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@contextmanager
def local_stack(root: Path, flags: list[str]) -> Iterator[LocalStack]:
    """The script running with `flags` until its closing block; everything killed after."""
    data_dir, airflow_port = root / "data", free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "THANOS"))},
        "K8SCOST_DATA_DIR": str(data_dir),
        "K8SCOST_AIRFLOW_PORT": str(airflow_port),
        "K8SCOST_API_PORT": str(free_port()),
    }
    console = root / "console.txt"
    with console.open("wb") as out:
        script = subprocess.Popen(
            [sys.executable, str(SCRIPT), *flags],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    stack = LocalStack(script, data_dir, console, f"http://127.0.0.1:{airflow_port}")
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while LAST_LINE not in console.read_text(errors="replace"):
            assert script.poll() is None, console.read_text(errors="replace")
            assert time.monotonic() < deadline, console.read_text(errors="replace")
            time.sleep(1)
        yield stack
    finally:  # whatever failed, leave nothing running: the script's own stop, then kill
        started = stack.processes()
        if script.poll() is None:
            script.terminate()
            with suppress(subprocess.TimeoutExpired):
                script.wait(timeout=STOP_WAIT_S)
        for process in [*started, *stack.processes()]:
            with suppress(psutil.Error):
                process.kill()
        if script.poll() is None:
            script.kill()
            script.wait()
