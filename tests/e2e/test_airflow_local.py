"""`make airflow` and `make airflow-celery` (scripts/airflow_local.py) stop on SIGTERM.

The script runs until its console prints the closing block (tests/local_stack.py); then
it gets SIGTERM (what a service manager, or `kill`, sends), and 30 s later no process
that it started, nor any task those started, may be left. Before that, the block is
short and says where to sign in, and every socket they listen on is on 127.0.0.1.
"""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from tests.local_stack import LocalStack, alive, local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # minutes: `make test` starts this file first

GONE_AFTER_S = 30


def _listening(processes: list[psutil.Process]) -> set[str]:
    pids = {process.pid for process in processes}
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    }


def _still_running(started: list[psutil.Process], stack: LocalStack) -> list[int]:
    """What is left of the processes seen before SIGTERM, and any new one of the stack's."""
    return [p.pid for p in [*started, *stack.processes()] if alive(p)]


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="local"),
        pytest.param(["--celery"], id="celery", marks=pytest.mark.celery),
    ],
)
def test_sigterm_stops_everything_the_local_stack_started(tmp_path, flags):
    with local_stack(tmp_path, flags) as stack:
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
