"""`k8scost cloud import`, `tokens` and `api` as a user runs them: console script, gunicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e

K8SCOST = Path(sys.executable).with_name("k8scost")
BILL = [
    {
        "ProviderName": "AWS",
        "SubAccountId": "111",
        "ChargePeriodStart": f"2024-03-0{n}T00:00:00Z",
        "BilledCost": str(cost),
        "ResourceId": f"i-{n}",
        "ServiceName": "AmazonEC2",
    }
    for n, cost in ((1, 1.5), (2, 2.5))
]
QUERY = "start_date=0&end_date=1709337600"


def k8scost(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "K8SCOST_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(K8SCOST), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_live(url: str, within_s: float = 90.0) -> None:
    """Poll /livez (no database involved) until the server answers; fail after `within_s`
    (a loaded CI machine starts an interpreter with chdb in far more than the usual 2 s)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/livez", timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url}/livez did not answer within {within_s:.0f} s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """`k8scost api` on a free port, its output (gunicorn's log and access log) in a file."""
    data_dir = tmp_path / "data"
    port = free_port()
    log = tmp_path / "api.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(K8SCOST), "api", "--port", str(port)],
            env={**os.environ, "K8SCOST_DATA_DIR": str(data_dir)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url)
        yield url, data_dir, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=30
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_import_a_bill_then_read_it_through_gunicorn_with_a_token(server, tmp_path) -> None:
    url, data_dir, process = server
    bill = tmp_path / "bill.csv"
    pd.DataFrame(BILL).to_csv(bill, index=False)

    imported = k8scost(data_dir, "cloud", "import", "--organization-id", "org-1", str(bill))
    assert imported.returncode == 0, imported.stderr
    assert "1 account(s) (1 new), 2 resource(s) (2 new)" in imported.stdout
    token = k8scost(data_dir, "tokens", "create", "--organization-id", "org-1").stdout.strip()

    endpoint = f"{url}/restapi/v2/organizations/org-1/clean_expenses?{QUERY}"
    status, body = get(endpoint, token)
    assert status == 200, body
    assert body["total_cost"] == pytest.approx(4.0)
    assert [item["cloud_resource_id"] for item in body["clean_expenses"]] == ["i-2", "i-1"]
    assert get(endpoint)[0] == 401
    assert get(f"{url}/restapi/v2/organizations/org-2/clean_expenses?{QUERY}", token)[0] == 403

    revoked = k8scost(data_dir, "tokens", "revoke", "--organization-id", "org-1")
    assert revoked.stdout.strip() == "revoked 1 token(s)"
    assert get(endpoint, token)[0] == 401

    process.terminate()
    process.wait(timeout=30)
    log = (tmp_path / "api.log").read_text()
    assert "gunicorn" in log.lower()
    assert f'"GET /restapi/v2/organizations/org-1/clean_expenses?{QUERY} HTTP/1.1" 200' in log


def test_a_malformed_bill_is_one_error_line_naming_line_and_column(tmp_path) -> None:
    bill = tmp_path / "bill.csv"
    pd.DataFrame([BILL[0], {**BILL[1], "BilledCost": "two"}]).to_csv(bill, index=False)

    completed = k8scost(tmp_path / "data", "cloud", "import", "--organization-id", "o", str(bill))

    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("error: bill.csv: not loaded")
    assert "line 3, column BilledCost: 'two' is not a number" in line


def test_tokens_revoke_needs_exactly_one_target(tmp_path) -> None:
    completed = k8scost(tmp_path, "tokens", "revoke")
    assert completed.returncode == 2
    assert "exactly one of --organization-id and --token" in completed.stderr


SERVE_AFTER_USING_THE_STORES = """
import sys
from api.app import serve
from etl.storage import registry
from etl.storage import warehouse
from etl.storage.clickhouse import connect
from etl.core.config import Settings
settings = Settings.from_env()
with connect(settings.clickhouse_dsn) as client:
    warehouse.init_schema(client)
registry.add_account(registry.open_database(settings.mongo_uri, settings.mongo_db), "o", "c")
serve(settings, "127.0.0.1", int(sys.argv[1]))
"""


def test_serving_from_a_process_that_already_used_the_stores(tmp_path) -> None:
    """What `k8scost demo` does: cost days (chdb, montydb), then serve; workers must not hang."""
    data_dir = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "K8SCOST_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_AFTER_USING_THE_STORES, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        token = k8scost(data_dir, "tokens", "create", "--organization-id", "o").stdout.strip()
        wait_until_live(f"http://127.0.0.1:{port}")
        # A worker forked from a process that used chdb hangs here (30 s timeout).
        status, body = get(
            f"http://127.0.0.1:{port}/restapi/v2/organizations/o/clean_expenses?{QUERY}", token
        )
        assert status == 200, body
        assert body["total_count"] == 0
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
