"""`k8scost` as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import simulate_to_dir
from etl.core.config import Settings
from tests.stored import stored_day
from tests.truth import expected_day_costs

pytestmark = pytest.mark.e2e

# The console script installed beside this interpreter, whatever PATH says.
K8SCOST = Path(sys.executable).with_name("k8scost")


def k8scost(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "THANOS_URL": settings.thanos_url,
        "PROMQL_RETRIES": "1",
    }
    return subprocess.run(
        [str(K8SCOST), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_error(completed: subprocess.CompletedProcess, *fragments: str) -> None:
    assert completed.returncode != 0
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_run_loads_and_prints_each_tenant(pipeline_settings, simulated_prometheus):
    day = simulated_prometheus.days[0]
    completed = k8scost(pipeline_settings, "run", "--date", day.isoformat())
    assert completed.returncode == 0, completed.stderr
    printed = completed.stdout.strip().splitlines()
    assert len(printed) == len(simulated_prometheus.tenant_ids)
    for tenant in simulated_prometheus.tenant_ids:
        expected = sum(expected_day_costs(simulated_prometheus.scenario, tenant, day).values())
        assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(
            expected, rel=1e-4
        )
        assert any(tenant in line for line in printed)


def test_run_only_the_named_tenant(pipeline_settings, simulated_prometheus):
    first, second = simulated_prometheus.tenant_ids
    day = simulated_prometheus.days[1]
    completed = k8scost(pipeline_settings, "run", "--date", day.isoformat(), "--tenant", second)
    assert completed.returncode == 0, completed.stderr
    assert stored_day(pipeline_settings, first, day) == {}
    assert stored_day(pipeline_settings, second, day)["cost"] > 0


def test_accounts_add_and_list(tmp_path):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    added = k8scost(settings, "accounts", "add", "--organization-id", "org-1", "--name", "prod")
    assert added.returncode == 0, added.stderr
    account_id = added.stdout.strip()
    listed = k8scost(settings, "accounts", "list")
    assert listed.stdout.split() == [account_id, "kubernetes_cnr", "org-1", "prod"]


def test_db_init_is_idempotent(tmp_path):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    for _ in range(2):
        completed = k8scost(settings, "db", "init")
        assert completed.returncode == 0, completed.stderr
        assert "applied 001_expenses.sql" in completed.stdout


def test_unknown_tenant(pipeline_settings, simulated_prometheus):
    completed = k8scost(
        pipeline_settings,
        "run",
        "--date",
        simulated_prometheus.days[0].isoformat(),
        "--tenant",
        "no-such-tenant",
    )
    assert_one_line_error(completed, "unknown tenant no-such-tenant")


def test_a_date_in_the_future(pipeline_settings):
    completed = k8scost(
        pipeline_settings,
        "run",
        "--date",
        date.today().replace(year=date.today().year + 1).isoformat(),
    )
    assert_one_line_error(completed, "has not ended yet")


def test_a_malformed_date(pipeline_settings):
    assert_one_line_error(k8scost(pipeline_settings, "run", "--date", "yesterday"), "invalid date")


def test_an_unreachable_thanos(pipeline_settings, simulated_prometheus):
    down = pipeline_settings.with_overrides(thanos_url="http://127.0.0.1:9")
    completed = k8scost(down, "run", "--date", simulated_prometheus.days[0].isoformat())
    assert_one_line_error(completed, "unreachable", "http://127.0.0.1:9", "tenant ")


@pytest.fixture(scope="module")
def stingy_prometheus(tmp_path_factory):
    """A real Prometheus that refuses any query loading more than 1000 samples."""
    root = tmp_path_factory.mktemp("stingy")
    scenario = simulate_to_dir(root / "sim", clusters=1, days=1, end_day=date(2026, 6, 2))
    backfill(scenario.with_name("metrics.om"), root / "tsdb")
    with PrometheusServer(root / "tsdb", extra_args=["--query.max-samples=1000"]) as server:
        yield server, scenario


def test_a_promql_error_answer(tmp_path, stingy_prometheus):
    server, scenario_path = stingy_prometheus
    cluster = json.loads(Path(scenario_path).read_text())["clusters"][0]
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path), "THANOS_URL": server.url})
    k8scost(
        settings,
        "accounts",
        "add",
        "--organization-id",
        "o",
        "--name",
        "c",
        "--id",
        cluster["tenant_id"],
    )
    completed = k8scost(settings, "run", "--date", "2026-06-02")
    assert_one_line_error(completed, "PromQL error", cluster["tenant_id"], "too many samples")
