"""A `k8scost run` killed during its load does not block its tenant-day, and a tenant-day
that another live run holds is one failure among the others.

Issue #26: after `kill -9` of a run holding the lease, the next run waited 600 s, then
exited 1 with a traceback, and never tried the other clusters.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from click.testing import CliRunner

from etl.storage import ledger as ledger_store
from etl.storage import registry
from etl.worker import lease, ledger
from k8scost.cli import cli
from tests.e2e.test_cli import K8SCOST, k8scost
from tests.stored import stored_day
from tests.truth import expected_day_costs

pytestmark = pytest.mark.e2e


def test_a_run_killed_during_its_load_is_rerun_at_once(pipeline_settings, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[0]
    db = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(pipeline_settings.data_dir),
        "THANOS_URL": pipeline_settings.thanos_url,
    }
    killed = subprocess.Popen(
        [str(K8SCOST), "run", "--date", day.isoformat(), "--tenant", tenant],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The load holds the tenant-day's lease: kill the run as soon as it has taken it.
    while lease.current(db, tenant, day) is None:
        assert killed.poll() is None, "the run ended before its load"
        time.sleep(0.005)
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert lease.current(db, tenant, day)["pid"] == killed.pid  # left behind, unexpired

    rerun = k8scost(pipeline_settings, "run", "--date", day.isoformat(), "--tenant", tenant)
    assert rerun.returncode == 0, rerun.stderr

    record = db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})
    assert [entry["status"] for entry in record["history"]] == [
        ledger.ABANDONED,
        ledger.LOADED,
        ledger.SUCCEEDED,
    ]
    assert record["history"][0]["pid"] == killed.pid
    assert (record["status"], record["attempts"]) == (ledger.SUCCEEDED, 2)
    assert lease.current(db, tenant, day) is None
    expected = sum(expected_day_costs(simulated_prometheus.scenario, tenant, day).values())
    assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(expected, rel=1e-4)


def test_a_busy_tenant_is_one_line_among_the_others(
    pipeline_settings, simulated_prometheus, monkeypatch
):
    busy, free = simulated_prometheus.tenant_ids
    day = simulated_prometheus.days[1]
    db = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(pipeline_settings.data_dir))
    monkeypatch.setenv("THANOS_URL", pipeline_settings.thanos_url)
    monkeypatch.setattr(lease, "LEASE_WAIT_S", 1)
    # This process is alive and renews its lease: the run has to wait, then give up on it.
    with lease.hold(db, busy, day):
        result = CliRunner().invoke(cli, ["run", "--date", day.isoformat()])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert errors == [
        f"error: tenant {busy} on {day} is being loaded by {socket.gethostname()} "
        f"pid {os.getpid()}; waited 1s"
    ]
    assert f"({free}): cost " in result.stdout and f"({busy})" not in result.stdout
    assert stored_day(pipeline_settings, free, day)["cost"] > 0
    assert stored_day(pipeline_settings, busy, day) == {}
    record = db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(busy, day)})
    assert (record["status"], record["stage"]) == (ledger.FAILED, "load")
