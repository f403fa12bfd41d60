"""The one ClickHouse client factory.

`CLICKHOUSE_DSN` is either `chdb:///path` (ClickHouse embedded in-process) or
`http(s)://user:pass@host:8123/db` (a server); clickhouse-connect returns the
same `Client` for both, so every query in `sql/` runs unchanged on either.

Batch work (Airflow tasks, the CLI) opens a client per unit of work with `connect`
and closes it right after. A server process (the API) keeps its clients open in a
pool, one per concurrent user: `ClientPool(dsn)` picks the pool the DSN needs.

On a server, that is all: `ClientPool` is a plain pool, `connect` a plain open.

The embedded engine alone needs more, and only a `chdb://` DSN pays for it. Its
directory can be open in one process at a time, and the lock is released as soon
as the last client closes. A process that finds it locked waits and retries, and
while it waits it touches `<path>.wanted`. It looks before it tries, as ClickHouse
itself does (an exclusive `flock` on `<path>/status`, a file naming its holder's pid):
a try that fails makes ClickHouse print `Code: 76 ... Cannot lock file` on stderr,
which reads like a failure on every command that merely waited, so the wait prints
one line of ours instead, and nothing when the directory is free. The look and the
open are one step under `<path>.opening` (a `flock`), so the API taking the directory
back cannot slip in between them. The API's pool for it is an
`EmbeddedClientPool` (opening an embedded engine is slow and starts with cold
caches, so it is kept open too): once a newer `.wanted` says another process waits,
it starts no new query and a watcher thread yields the directory when the running
ones end. So Airflow and the API can share one directory without either starving.
One process embeds one path at a time: opening another path first closes the idle
pools of the previous one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import ClassVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

log = logging.getLogger(__name__)
LOCK_RETRY_SLEEP_S = 0.05
# How often an embedded pool looks for a waiting process, and how long a `.wanted`
# must have been left alone before the pool takes the directory back (the waiter
# retries every LOCK_RETRY_SLEEP_S, so a fresher mark means it has not got in yet).
YIELD_POLL_S = 0.02
WANTED_QUIET_S = 3 * LOCK_RETRY_SLEEP_S
CHDB_SCHEME = "chdb://"
# Every client's session settings: expressions interpreted, never JIT-compiled.
# ClickHouse compiles (LLVM) an expression once it has seen it a few times and keys the
# code by the expression with its constants. Our queries bind other ids, days, keys
# and, in a rollup's compute, a fresh compute id on nearly every call, so a compile (a
# few hundred ms for the rollups' views, more than running them on a day's rows) was
# paid and then seldom used again: it showed as the slow tail of the API's calls, and
# as most of a rollup compute's time. Session settings: other clients of the same
# server keep its defaults.
SESSION_SETTINGS = {
    "compile_expressions": 0,
    "compile_aggregate_expressions": 0,
    "compile_sort_description": 0,
}


class ClickHouseBusyError(RuntimeError):
    """The embedded ClickHouse directory stayed locked by another process."""


def _is_chdb_lock_error(error: Exception) -> bool:
    text = str(error)
    return "Cannot lock file" in text or "Error initializing EmbeddedServer" in text


def chdb_path(dsn: str) -> Path | None:
    """The directory of a `chdb:///path` DSN; None for a server DSN."""
    if not dsn.startswith(CHDB_SCHEME):
        return None
    return Path(dsn.removeprefix(CHDB_SCHEME).split("?", 1)[0])


def wanted_marker(path: Path) -> Path:
    """The file a process touches while it waits for the chdb directory `path`."""
    return path.with_name(path.name + ".wanted")


def _mark_wanted(path: Path) -> None:
    with suppress(OSError):  # touch() also renews the time of an existing marker
        wanted_marker(path).touch()


def _other_holder(path: Path) -> int | None:
    """The pid that holds the chdb directory when it is another process, else None.

    Our own process holding it is no obstacle (its clients share the engine), so the
    pid written in the status file tells the two apart; 0 when it cannot be read.
    """
    try:
        descriptor = os.open(path / "status", os.O_RDONLY)
    except FileNotFoundError:
        return None  # never opened, or closed cleanly
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        status = os.pread(descriptor, 4096, 0).decode(errors="replace")
        pid = next(
            (line.split()[-1] for line in status.splitlines() if line.startswith("PID:")), "0"
        )
        holder = int(pid) if pid.isdigit() else 0
        return None if holder == os.getpid() else holder
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)  # free: a holder that died leaves the file
        return None
    finally:
        os.close(descriptor)


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Hold `<path>.opening` while looking at the directory and opening it: another
    process (the API taking the directory back) could otherwise get in between the look
    and the open, and the open would print ClickHouse's own lock error after all."""
    descriptor = os.open(path.parent / f"{path.name}.opening", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the flock


def _open(dsn: str, lock_wait_s: float) -> Client:
    """A new client; for chdb, waits (marking the directory wanted) while another process
    holds it. A server DSN connects at once: `lock_wait_s` has no meaning there."""
    path = chdb_path(dsn)
    if path is None:
        return clickhouse_connect.get_client(dsn=dsn, settings=SESSION_SETTINGS)
    EmbeddedClientPool.release_other_paths(path)
    deadline = time.monotonic() + lock_wait_s
    announced = False
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with _opening(path):
            holder = _other_holder(path)
            if holder is None:
                try:
                    return clickhouse_connect.get_client(dsn=dsn, settings=SESSION_SETTINGS)
                except ProgrammingError as error:
                    if not _is_chdb_lock_error(error):
                        raise
                    # A process that opens without `_opening` got in: the next look names it.
        if holder is not None and not announced:
            log.warning(
                "waiting for the API (or the process holding it, pid %s) to hand over the "
                "embedded ClickHouse at %s",
                holder or "unknown",
                path,
            )
            announced = True
        if time.monotonic() >= deadline:
            raise ClickHouseBusyError(
                f"embedded ClickHouse at {dsn} stayed locked by another process "
                f"for {lock_wait_s:.0f}s"
            )
        _mark_wanted(path)
        time.sleep(LOCK_RETRY_SLEEP_S)


@contextmanager
def connect(dsn: str, lock_wait_s: float = 60.0) -> Iterator[Client]:
    """Yield a client for `dsn`, closed on exit; waits while a chdb directory is locked."""
    client = _open(dsn, lock_wait_s)
    try:
        yield client
    finally:
        client.close()


def ping(client: Client) -> None:
    """A round trip to the server (or the embedded engine); raises when it cannot answer."""
    client.query("SELECT 1")


class ClientPool:
    """Clients of one DSN kept open across requests, one per concurrent user.

    A clickhouse-connect client runs one query at a time (its session), hence one
    per user. `ClientPool(dsn)` is the factory: for a `chdb://` DSN it returns an
    `EmbeddedClientPool`, so the code that serves a server DSN has no marker, no
    watcher thread and no handover.
    """

    def __new__(cls, dsn: str, lock_wait_s: float = 60.0) -> ClientPool:
        if cls is ClientPool and chdb_path(dsn) is not None:
            cls = EmbeddedClientPool
        return super().__new__(cls)

    def __init__(self, dsn: str, lock_wait_s: float = 60.0) -> None:
        self.dsn = dsn
        self.lock_wait_s = lock_wait_s
        self.opens = 0
        self._idle: list[Client] = []
        self._in_use = 0
        self._lock = threading.Lock()
        # A pool dropped without close() (an app discarded by a test) still lets go.
        weakref.finalize(self, _close_all, self._idle)

    @contextmanager
    def client(self, lock_wait_s: float | None = None) -> Iterator[Client]:
        """An open client for the duration of the block, returned to the pool after."""
        client = self._take(self.lock_wait_s if lock_wait_s is None else lock_wait_s)
        try:
            yield client
        finally:
            with self._lock:
                self._in_use -= 1
                self._idle.append(client)

    def close(self) -> None:
        """Close the idle clients now; one in use stays open until its block ends."""
        with self._lock:
            _close_all(self._idle)

    def _take(self, lock_wait_s: float) -> Client:
        with self._lock:
            if self._idle:
                self._in_use += 1
                return self._idle.pop()
        client = _open(self.dsn, lock_wait_s)
        with self._lock:
            self.opens += 1
            self._in_use += 1
        return client


class EmbeddedClientPool(ClientPool):
    """The pool of a chdb directory, which it hands over to a process that waits for it.

    Once another process has marked the directory wanted since the pool opened it,
    no new query starts, a watcher thread closes every client as soon as the
    running ones end, and the next use reopens once that process is through: a
    busy API cannot starve an Airflow task.
    """

    _pools: ClassVar[weakref.WeakSet[EmbeddedClientPool]] = weakref.WeakSet()

    def __init__(self, dsn: str, lock_wait_s: float = 60.0) -> None:
        super().__init__(dsn, lock_wait_s)
        path = chdb_path(dsn)
        if path is None:
            raise ValueError(f"not a chdb DSN: {dsn}")
        self.path = path
        self._opened_at = 0.0
        self._watching = False
        EmbeddedClientPool._pools.add(self)

    @classmethod
    def release_other_paths(cls, path: Path) -> None:
        """Close the pools of other chdb paths: a process embeds one path at a time."""
        for pool in list(cls._pools):
            if pool.path != path:
                pool.close()

    def _take(self, lock_wait_s: float) -> Client:
        deadline = time.monotonic() + lock_wait_s
        while True:
            with self._lock:
                held = bool(self._idle or self._in_use)
                if not (held and self._wanted()):
                    if self._idle:
                        self._in_use += 1
                        return self._idle.pop()
                    break
            # Another process waits: no query starts here until the running ones have
            # ended and the watcher has closed every client, or it would never get in.
            if time.monotonic() >= deadline:
                raise ClickHouseBusyError(f"{self.dsn} stayed wanted by another process")
            time.sleep(YIELD_POLL_S)
        if not held:
            self._wait_while_wanted(deadline)
        client = _open(self.dsn, max(0.0, deadline - time.monotonic()))
        with self._lock:
            if not self._idle and not self._in_use:
                self._opened_at = time.time()
            self.opens += 1
            self._in_use += 1
            self._start_watcher()
        return client

    def _wait_while_wanted(self, deadline: float) -> None:
        """Let a process that marked the directory wanted get in before reopening it."""
        while time.monotonic() < deadline and time.time() - self._wanted_at() < WANTED_QUIET_S:
            time.sleep(LOCK_RETRY_SLEEP_S)

    def _wanted(self) -> bool:
        """Another process marked the directory wanted since this pool opened it."""
        return self._wanted_at() > self._opened_at

    def _wanted_at(self) -> float:
        try:
            return wanted_marker(self.path).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _start_watcher(self) -> None:
        """Called under the lock; one watcher per pool while it holds clients."""
        if self._watching:
            return
        self._watching = True
        threading.Thread(
            target=_watch, args=(weakref.ref(self),), name="clickhouse-pool-yield", daemon=True
        ).start()

    def _yield_if_wanted(self) -> bool:
        """Close the clients if another process waits and none is in use; False once empty."""
        with self._lock:
            if self._idle and not self._in_use and self._wanted():
                _close_all(self._idle)
            if not self._idle and not self._in_use:
                self._watching = False
                return False
            return True


def _close_all(clients: list[Client]) -> None:
    for client in clients:
        client.close()
    clients.clear()


def _watch(pool_ref: weakref.ref[EmbeddedClientPool]) -> None:
    """Run while the pool holds clients; stops once it has none (or is collected)."""
    while True:
        time.sleep(YIELD_POLL_S)
        pool = pool_ref()
        if pool is None or not pool._yield_if_wanted():
            return


# What clickhouse-connect escapes in a bound string (a backslash before each).
_ESCAPES = str.maketrans({char: "\\" + char for char in ("\\", "'", "`", "\t", "\n")})


class StringArray:
    """An `Array(String)` query parameter, formatted once as the literal the server parses.

    clickhouse-connect formats a list parameter character by character in Python, at
    every query; this joins the values at once (escaping, when
    one needs it, exactly what clickhouse-connect escapes), and can be reused
    across queries. clickhouse-connect binds an object it has no rule for as
    `str(value)`, so this is passed as is: `parameters={"ids": StringArray(ids)}`.
    """

    __slots__ = ("literal",)

    def __init__(self, values: Iterable[str]) -> None:
        values = tuple(values)
        every_value = "".join(values)
        if every_value.translate(_ESCAPES) == every_value:  # nothing to escape: most ids
            joined = "', '".join(values)
        else:
            joined = "', '".join(value.translate(_ESCAPES) for value in values)
        self.literal = f"['{joined}']" if values else "[]"

    def __str__(self) -> str:
        return self.literal
