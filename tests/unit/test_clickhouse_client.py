"""etl/storage/clickhouse.py: the API pools (a server's plain one; chdb's, open and handed to a
waiting process), StringArray."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import ProgrammingError

from etl.storage.clickhouse import (
    SESSION_SETTINGS,
    ClientPool,
    EmbeddedClientPool,
    StringArray,
    connect,
    wanted_marker,
)

CREATE = "CREATE TABLE IF NOT EXISTS marks (value UInt32) ENGINE = MergeTree ORDER BY value"


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    with connect(dsn) as client:
        client.command(CREATE)
    return dsn


def count(pool: ClientPool) -> int:
    with pool.client() as client:
        return client.query("SELECT count() FROM marks").result_rows[0][0]


def test_a_pool_reuses_its_client_between_uses(dsn: str) -> None:
    pool = ClientPool(dsn)
    assert [count(pool) for _ in range(3)] == [0, 0, 0]
    assert pool.opens == 1
    pool.close()


def test_every_client_interprets_expressions_and_a_query_compiles_none(dsn: str) -> None:
    """SESSION_SETTINGS reach the engine: a query seen often enough to be JIT-compiled
    under ClickHouse's defaults compiles nothing (the engine's own counter)."""
    names = sorted(SESSION_SETTINGS)
    with connect(dsn) as client:
        asked = ", ".join(f"getSetting('{name}')" for name in names)
        assert client.query(f"SELECT {asked}").result_rows == [(False,) * len(names)]
        compiled = (
            "SELECT sum(value) FROM system.events WHERE event = 'CompileExpressionsMicroseconds'"
        )
        before = client.query(compiled).result_rows[0][0]
        for _ in range(5):
            client.query("SELECT sum(number * 3 + 1) FROM numbers(100000) WHERE number % 7 = 1")
        assert client.query(compiled).result_rows[0][0] == before


def test_concurrent_uses_get_their_own_client(dsn: str) -> None:
    pool = ClientPool(dsn)
    with pool.client() as first, pool.client() as second:
        assert first is not second
        assert second.query("SELECT 1").result_rows == [(1,)]
    with pool.client() as again:
        assert again in (first, second)
    pool.close()


def test_another_process_gets_the_directory_the_pool_holds(dsn: str) -> None:
    pool = ClientPool(dsn)
    assert count(pool) == 0  # the pool now holds the directory's lock
    writer = textwrap.dedent(
        f"""
        from etl.storage.clickhouse import connect
        with connect({dsn!r}, lock_wait_s=30) as client:
            client.command("INSERT INTO marks VALUES (1)")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", writer], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert wanted_marker(Path(dsn.removeprefix("chdb://"))).exists()
    assert count(pool) == 1  # reopened after the writer, and sees its row
    assert pool.opens == 2
    pool.close()


def test_a_busy_pool_still_lets_a_waiting_process_in(dsn: str) -> None:
    """Queries back to back from several threads: the pool stops starting them."""
    pool = ClientPool(dsn)
    stop = threading.Event()
    counts: list[int] = []

    def hammer() -> None:
        while not stop.is_set():
            counts.append(count(pool))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        writer = textwrap.dedent(
            f"""
            from etl.storage.clickhouse import connect
            with connect({dsn!r}, lock_wait_s=60) as client:
                client.command("INSERT INTO marks VALUES (1)")
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", writer], capture_output=True, text=True, timeout=120
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert done.returncode == 0, done.stderr
    assert count(pool) == 1
    assert pool.opens >= 2 and set(counts) <= {0, 1}
    pool.close()


# The console script installed beside this interpreter, whatever PATH says.
K8SCOST = Path(sys.executable).with_name("k8scost")


def test_a_command_that_waits_for_the_directory_says_so_once_and_no_clickhouse_error(
    tmp_path: Path,
) -> None:
    """`k8scost db init` while another process holds the directory, then when it is free:
    one line of ours, then nothing; never ClickHouse's own `Cannot lock file`."""
    data_dir = tmp_path / "data"
    dsn = f"chdb://{data_dir / 'clickhouse'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            f"""
            import time
            from pathlib import Path
            from etl.storage.clickhouse import connect, wanted_marker
            with connect({dsn!r}) as client:
                client.command("SELECT 1")
                print("holding", flush=True)
                # Held until the command has found it held and waits (it marks it wanted).
                marker = wanted_marker(Path({str(data_dir / "clickhouse")!r}))
                while not marker.exists():
                    time.sleep(0.01)
            """
        )],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert holder.stdout.readline() == "holding\n"
    env = {**os.environ, "K8SCOST_DATA_DIR": str(data_dir)}
    waited = subprocess.run(
        [str(K8SCOST), "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert holder.wait(timeout=60) == 0
    assert waited.returncode == 0, waited.stderr
    assert "applied" in waited.stdout
    (line,) = waited.stderr.splitlines()
    assert "waiting for the API" in line and f"pid {holder.pid}" in line, line
    at_once = subprocess.run(
        [str(K8SCOST), "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert at_once.returncode == 0, at_once.stderr
    assert at_once.stderr == ""


def test_opening_another_path_closes_the_idle_pool_of_the_first(dsn: str, tmp_path: Path) -> None:
    pool = ClientPool(dsn)
    assert count(pool) == 0
    with connect(f"chdb://{tmp_path / 'other'}") as client:
        assert client.query("SELECT 1").result_rows == [(1,)]
    assert count(pool) == 0
    assert pool.opens == 2
    pool.close()


AWKWARD_IDS = [
    "i-0abc",
    "arn:aws:ec2:us-east-1:1:instance/i-0abc",
    "it's",
    "back\\slash\\",
    "tab\there",
    "new\nline",
    "`tick`",
    "{curly:String}",
    "%s %(name)s",
    "$heredoc$",
    "üñí ✓",
    "",
]


@pytest.mark.parametrize("ids", [AWKWARD_IDS, ["plain-1", "plain-2"], []])
def test_a_string_array_reaches_clickhouse_unchanged(dsn: str, ids: list[str]) -> None:
    with connect(dsn) as client:
        bound = client.query(
            "SELECT {ids:Array(String)}, length({ids:Array(String)})",
            parameters={"ids": StringArray(ids)},
        ).result_rows
        assert bound == [(ids, len(ids))]
        # the same as clickhouse-connect's own formatting of the list
        assert client.query("SELECT {ids:Array(String)}", parameters={"ids": ids}).result_rows == [
            (ids,)
        ]


def test_a_string_array_serves_in_and_has(dsn: str) -> None:
    with connect(dsn) as client:
        found = client.query(
            "SELECT 'it''s' IN {ids:Array(String)}, has({ids:Array(String)}, 'new\\nline'),"
            " 'nowhere' IN {ids:Array(String)}",
            parameters={"ids": StringArray(AWKWARD_IDS)},
        ).result_rows
    assert found == [(1, 1, 0)]


class FakeServerClient:
    """What clickhouse-connect returns for an http DSN, without a server to reach."""

    closed = False

    def close(self) -> None:
        self.closed = True


def test_a_server_dsn_gets_a_plain_pool_without_a_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[FakeServerClient] = []

    def get_client(dsn: str, settings: dict[str, int]) -> FakeServerClient:
        assert settings == SESSION_SETTINGS
        opened.append(FakeServerClient())
        return opened[-1]

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    threads_before = set(threading.enumerate())
    pool = ClientPool("http://k8scost:secret@clickhouse:8123/k8scost")
    assert type(pool) is ClientPool
    with pool.client() as first, pool.client() as second:
        assert first is not second
    with pool.client() as again:
        assert again in (first, second)
    assert pool.opens == 2 == len(opened)
    assert set(threading.enumerate()) <= threads_before  # no watcher thread
    pool.close()
    assert all(client.closed for client in opened)
    with connect("https://clickhouse:8443/k8scost") as client:
        assert client is opened[-1]
    assert client.closed


def test_a_server_that_refuses_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock retry loop is chdb's: a server's error reaches the caller at once."""

    def get_client(dsn: str, settings: dict[str, int]) -> None:
        raise ProgrammingError("Cannot lock file")

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    started = time.monotonic()
    pool = ClientPool("http://clickhouse:8123/k8scost", lock_wait_s=30)
    with pytest.raises(ProgrammingError), pool.client():
        pass
    assert time.monotonic() - started < 1


def test_a_chdb_dsn_gets_the_embedded_pool(dsn: str) -> None:
    pool = ClientPool(dsn)
    assert isinstance(pool, EmbeddedClientPool)
    assert pool.path == Path(dsn.removeprefix("chdb://"))
    pool.close()


CHURN = """
import sys, time
from etl.storage.clickhouse import connect
until = time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    with connect(sys.argv[1], 60) as client:
        client.command("SELECT 1")
"""


def test_two_processes_taking_turns_never_print_clickhouse_s_lock_error(tmp_path: Path) -> None:
    """Two processes opening and closing one directory in turn (Airflow tasks and the
    API handing it over and back): each waits its turn, and ClickHouse's own `Cannot
    lock file` (printed when an open loses a race after its look) never shows."""
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    runs = [
        subprocess.Popen([sys.executable, "-c", CHURN, dsn, "6"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert not [text for text in errors if "Cannot lock" in text or "Code: 76" in text], errors
