"""Kubecost's own /metrics, scraped as a customer's Prometheus does, costs one amount.

The field's case (issue "same input, same money"): a Kubecost 2.x day where a third of
the running containers have no `container_*_allocation` series (BestEffort sidecars
among them), released PVs without a claim, a pod name reused on another node and a
scrape gap, in both scrape setups (`honor_labels` on: `kubecost`; off:
`kubecost-relabelled`, docs/exporters.md). Each tenant-day is run five times: in
process at one and at four queries in flight, and as `k8scost run` under two hash
seeds. Every run must store the same rows, and the stored and served cost must be the
asset view's, which is tests/truth.py's, computed from the scenario alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api import auth
from api.app import create_app
from devtools.simulate import build_scenario
from etl.core.config import Settings
from etl.storage import registry
from etl.storage.clickhouse import connect
from etl.worker.pipeline import run_tenant_day
from tests.allocation_checks import (
    ABS,
    PITFALL_DAY,
    REL,
    assert_matches_truth,
    registered_history,
    stored_allocation,
)
from tests.stored import stored_day
from tests.truth import COST_KEYS, day_bounds, expected_day_costs

SHAPES = ("kubecost", "kubecost-relabelled")
PITFALLS = ["missing_allocation", "unclaimed_pvs", "name_reuse", "scrape_gap"]
RUNS = 5
pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # minutes: `make test` starts this file first


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One Prometheus over one cluster-day per Kubecost scrape setup, clusters registered."""
    scenarios = {
        shape: build_scenario(
            1, 1, PITFALL_DAY, seed=700 + n, scrape_interval_s=60, pitfalls=PITFALLS, exporter=shape
        )
        for n, shape in enumerate(SHAPES)
    }
    root = tmp_path_factory.mktemp("kubecost")
    with registered_history(root, scenarios) as served:
        yield served


def _live_rows(settings: Settings, tenant: str) -> pd.DataFrame:
    """The tenant-day's allocation rows exactly as stored: the table's cancelled pairs
    merged away (OPTIMIZE ... FINAL), so no float sum of cancel rows blurs them."""
    with connect(settings.clickhouse_dsn) as client:
        client.command("OPTIMIZE TABLE k8s_allocation FINAL")
        rows = client.query_df(
            "SELECT * EXCEPT (sign) FROM k8s_allocation "
            "WHERE cloud_account_id = {tenant:String} AND toDate(date) = {day:Date} AND sign = 1 "
            "ORDER BY resource_id",
            parameters={"tenant": tenant, "day": PITFALL_DAY},
        )
    return rows


def _cli_run(settings: Settings, tenant: str, hash_seed: str) -> None:
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "THANOS_URL": settings.thanos_url,
        "PYTHONHASHSEED": hash_seed,
    }
    k8scost = Path(sys.executable).with_name("k8scost")  # the installed console script
    command = [str(k8scost), "run", "--date", PITFALL_DAY.isoformat()]
    done = subprocess.run(
        [*command, "--tenant", tenant], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def _in_process_run(settings: Settings, tenant: str, concurrency: int) -> None:
    settings = replace(settings, promql_concurrency=concurrency)
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant])
    run_tenant_day(settings, database, account, PITFALL_DAY)


@pytest.mark.parametrize("shape", SHAPES)
def test_five_runs_store_the_same_rows_and_the_asset_view_s_cost(shape: str, history) -> None:
    settings, scenario = history
    cluster = next(c for c in scenario["clusters"] if c["name"] == shape)
    tenant = cluster["tenant_id"]
    containers = [c for pod in cluster["pods"] for c in pod["containers"]]
    missing = sum(not c.get("allocation", True) for c in containers)
    assert missing == len(containers) // 3  # the field's proportion (26 of 79)
    runs = [
        lambda: _in_process_run(settings, tenant, 1),
        lambda: _in_process_run(settings, tenant, 4),
        lambda: _cli_run(settings, tenant, "1"),
        lambda: _cli_run(settings, tenant, "2"),
        lambda: _in_process_run(settings, tenant, 4),
    ]
    stored = []
    for one in runs[:RUNS]:
        one()
        stored.append(_live_rows(settings, tenant))
    for later in stored[1:]:
        pd.testing.assert_frame_equal(later, stored[0], check_exact=True)

    # Stored = the asset view (the daily reconciliation), component by component.
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    check = database["k8s_reconciliations"].find_one({"_id": f"{tenant}:{PITFALL_DAY}"})
    assert check["ok"], check["components"]
    day = stored_day(settings, tenant, PITFALL_DAY)
    for component in [*COST_KEYS, "cost"]:
        asset = check["components"][component]["asset"]
        assert day[component] == pytest.approx(asset, rel=1e-12, abs=1e-12), component
    # Served = stored: what clean_expenses answers for the cluster that day.
    assert _served(settings, cluster) == pytest.approx(day["cost"], rel=1e-12)
    # The asset view = the truth, computed from the scenario (network to Prometheus'
    # `increase` extrapolation: tests/truth.py's REL, as every allocation test).
    truth = expected_day_costs(scenario, tenant, PITFALL_DAY)
    for component in COST_KEYS:
        assert day[component] == pytest.approx(truth[component], rel=REL, abs=ABS), component
    rows = stored_allocation(settings, tenant, PITFALL_DAY)
    assert_matches_truth(rows, scenario, tenant, PITFALL_DAY)
    idle = rows[rows["namespace"] == "__idle__"]
    assert (idle[["cpu_cost", "ram_cost", "gpu_cost"]] >= -1e-12).all().all()


def _served(settings: Settings, cluster: dict[str, Any]) -> float:
    """The cluster's cost on the day as clean_expenses serves it."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    organization = cluster["organization_id"]
    token = auth.issue_token(database, organization)
    start, end = day_bounds(PITFALL_DAY)
    answer = (
        create_app(settings)
        .test_client()
        .get(
            f"/restapi/v2/organizations/{organization}/clean_expenses",
            query_string={"start_date": start, "end_date": end - 1},
            headers={"Authorization": f"Bearer {token}"},
        )
        .get_json()
    )
    (item,) = [i for i in answer["clean_expenses"] if i["cloud_account_id"] == cluster["tenant_id"]]
    return item["cost"]


def test_a_history_written_here_is_kubecost_s_shape(history) -> None:
    """The fixture is what the test says: sidecars without requests listed first."""
    _, scenario = history
    for cluster in scenario["clusters"]:
        firsts = [pod["containers"][0] for pod in cluster["pods"]]
        assert any(c["name"] == "log-shipper" and not c["cpu_request"] for c in firsts)
        assert sum(pv["pvc"] is None for pv in cluster["pvs"]) == 3
