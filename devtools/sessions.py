"""Processes by session: how a stack stops everything it started, task processes included.

Why sessions: every server part is started in a session of its own
(`start_new_session=True`), and what it forks stays in that session unless it calls
setsid itself. Airflow's task supervisor puts each task process in a process group of
its own (so that it can signal the task alone), so signalling a part's process group
misses its running tasks; its session does not.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

POLL_S = 0.2


def members(session_ids: Iterable[int]) -> list[int]:
    """The live (not zombie) processes whose session is one of `session_ids`."""
    wanted = set(session_ids)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            # Fields after the command's closing parenthesis: state, ppid, pgrp, session.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) in wanted and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def signal_all(session_ids: Iterable[int], signum: int) -> None:
    """Send `signum` to every process of these sessions."""
    for pid in members(session_ids):
        with suppress(ProcessLookupError):
            os.kill(pid, signum)


def stop(session_ids: Iterable[int], grace_s: float) -> None:
    """SIGTERM every process of these sessions; SIGKILL what is left after `grace_s`."""
    sessions = list(session_ids)
    signal_all(sessions, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while members(sessions) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    signal_all(sessions, signal.SIGKILL)
