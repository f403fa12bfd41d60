"""The one ClickHouse client factory.

`CLICKHOUSE_DSN` is either `chdb:///path` (ClickHouse embedded in-process) or
`http(s)://user:pass@host:8123/db` (a server); clickhouse-connect returns the
same `Client` for both, so every query in `sql/` runs unchanged on either.

An embedded chdb directory can be open in one process at a time, and the lock
is released as soon as the last client closes. So a client is opened per unit
of work and closed right after; a process that finds the directory locked waits
and retries, which lets Airflow task processes and the API share one directory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

LOCK_RETRY_SLEEP_S = 0.05


class ClickHouseBusyError(RuntimeError):
    """The embedded ClickHouse directory stayed locked by another process."""


def _is_chdb_lock_error(error: Exception) -> bool:
    text = str(error)
    return "Cannot lock file" in text or "Error initializing EmbeddedServer" in text


@contextmanager
def connect(dsn: str, lock_wait_s: float = 60.0) -> Iterator[Client]:
    """Yield a client for `dsn`, closed on exit; waits while a chdb directory is locked."""
    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            client = clickhouse_connect.get_client(dsn=dsn)
            break
        except ProgrammingError as error:
            if not (dsn.startswith("chdb:") and _is_chdb_lock_error(error)):
                raise
            if time.monotonic() >= deadline:
                raise ClickHouseBusyError(
                    f"embedded ClickHouse at {dsn} stayed locked by another process "
                    f"for {lock_wait_s:.0f}s"
                ) from error
            time.sleep(LOCK_RETRY_SLEEP_S)
    try:
        yield client
    finally:
        client.close()
