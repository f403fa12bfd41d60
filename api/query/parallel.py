"""Two independent reads of one answer, run side by side.

An answer made of two reads (the bills' totals and their folded nodes) then waits for
the slower read rather than for both in turn. Each read takes its own client from the
pool (api/context.py `clickhouse`), never one while holding another, so a handover of
the embedded engine (etl/storage/clickhouse.py) cannot make a request wait on itself;
a server runs the two queries at once, and so does the embedded engine, whose queries
let go of the GIL. The second read runs in a copy of the request's context (Flask keeps
the app, the request and `g` in context variables); the first runs in the calling
thread, so an answer never waits for a free thread to start.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

# More reads than this at once queue their second halves: it bounds the threads, not
# the requests, since each first half runs in its request's own thread.
READ_THREADS = 8
_threads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="second-read")
First = TypeVar("First")
Second = TypeVar("Second")


def both(first: Callable[[], First], second: Callable[[], Second]) -> tuple[First, Second]:
    """(first(), second()), the two run at the same time. If one raises, its error is
    raised once both have ended, the first's when both raise."""
    later = _threads.submit(contextvars.copy_context().run, second)
    try:
        first_result = first()
    except BaseException:
        wait([later])  # nothing of this request runs on after it
        raise
    return first_result, later.result()
