"""The three steps of a tenant-day, `k8scost run`, the repair finder and replay, without Airflow.

Against the session's real Prometheus (tests/conftest.py) with the archive in a
local directory; the Airflow end-to-end test runs the same steps under a scheduler.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from etl.metroculus import lives, samples
from etl.metroculus.extract import CONTRACT_VERSION
from etl.storage import ledger as ledger_store
from etl.storage import registry
from etl.worker import archive, ledger, orchestration
from etl.worker.pipeline import promql_client
from k8scost.cli import cli
from tests.allocation_checks import stored_allocation
from tests.stored import stored_day
from tests.truth import day_bounds, overlap_s

pytestmark = pytest.mark.e2e


def run_steps(settings, tenant: str, day) -> None:
    url = orchestration.extract(settings, tenant, day, "test-run")
    orchestration.archive_extract(settings, tenant, day, url)
    orchestration.load(settings, tenant, day, url)


def test_source_samples_are_counted_per_metric(pipeline_settings, simulated_prometheus):
    scenario, (tenant, _), day = (
        simulated_prometheus.scenario,
        simulated_prometheus.tenant_ids,
        simulated_prometheus.days[0],
    )
    step_s = scenario["scrape_interval_s"]
    counts = samples.count_source_samples(promql_client(pipeline_settings), tenant, day, step_s)
    (cluster,) = [c for c in scenario["clusters"] if c["tenant_id"] == tenant]
    lo, hi = day_bounds(day)
    # One price sample per node per scrape while the node lived (the simulator's contract).
    expected = (
        sum(overlap_s(node, lo, hi) for node in cluster["nodes"]) // scenario["scrape_interval_s"]
    )
    assert counts["node_cpu_hourly_cost"] == expected
    assert set(counts) <= set(samples.source_metrics())
    # The repair DAG's count is the one the extract took from its round 1.
    run_steps(pipeline_settings, tenant, day)
    assert ledger_record(pipeline_settings, tenant, day)["source"]["samples_by_metric"] == counts


def test_the_finder_sees_gaps_failures_and_late_data(pipeline_settings, simulated_prometheus):
    settings, (a, b), (day1, day2) = (
        pipeline_settings,
        simulated_prometheus.tenant_ids,
        simulated_prometheus.days,
    )
    for tenant, day in ((a, day1), (a, day2), (b, day1)):
        run_steps(settings, tenant, day)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    assert orchestration.find_repairs(settings, day2, window_days=2) == [
        {"date": day2.isoformat(), "tenants": [b], "reasons": {b: "missing"}}
    ]
    # The day before the history has no record and no sample: nothing to re-run there.
    assert orchestration.find_repairs(settings, day2, window_days=3) == [
        {"date": day2.isoformat(), "tenants": [b], "reasons": {b: "missing"}}
    ]
    # The extract of (a, day2) saw fewer samples than Thanos holds now: late data.
    db[ledger_store.COLLECTION].update_one(
        {"_id": ledger.record_id(a, day2)}, {"$inc": {"source.samples": -10}}
    )
    (account,) = registry.k8s_accounts(db, [b])
    ledger.record_failed(db, account, day1, "load", RuntimeError("boom"))
    assert orchestration.find_repairs(settings, day2, window_days=2) == [
        {"date": day1.isoformat(), "tenants": [b], "reasons": {b: "failed"}},
        {
            "date": day2.isoformat(),
            "tenants": sorted([a, b]),
            "reasons": {a: "late_data", b: "missing"},
        },
    ]


def run_and_store(settings, simulated_prometheus, day_index: int) -> tuple[str, object, dict]:
    """Run the first tenant's day through the steps: (tenant, day, what was stored)."""
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[day_index]
    run_steps(settings, tenant, day)
    return tenant, day, stored_day(settings, tenant, day)


def test_replay_restores_the_day_from_the_archive(pipeline_settings, simulated_prometheus):
    settings = pipeline_settings
    tenant, day, original = run_and_store(settings, simulated_prometheus, 1)
    unreachable = settings.with_overrides(thanos_url="http://127.0.0.1:9")
    extract_url, totals = orchestration.replay(unreachable, tenant, day)
    assert extract_url == ledger_record(settings, tenant, day)["extract_url"]
    assert totals["cost"] == original["cost"] and stored_day(settings, tenant, day) == original


def ledger_record(settings, tenant, day) -> dict:
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return db[ledger_store.COLLECTION].find_one({"_id": ledger.record_id(tenant, day)})


def test_replay_of_a_day_never_archived_is_a_one_line_error(
    pipeline_settings, simulated_prometheus, monkeypatch
):
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(pipeline_settings.data_dir))
    tenant, day = simulated_prometheus.tenant_ids[1], simulated_prometheus.days[0]
    result = CliRunner().invoke(cli, ["replay", "--date", day.isoformat(), "--tenant", tenant])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: no archived extract for tenant {tenant} on {day}")


# What differs between two attempts of one tenant-day whoever runs them: when, which run,
# which (equal) extract, how many attempts so far, the rows (a rerun adds cancel rows) and
# the history of outcomes (each attempt appends its own).
PER_ATTEMPT = {"run_id", "extract_url", "attempts", "rows", "history"}


def comparable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in PER_ATTEMPT and not k.endswith("_at")}


def test_run_the_dag_steps_and_replay_leave_the_same_ledger_record(
    pipeline_settings, simulated_prometheus, monkeypatch
):
    settings, tenant, day = (
        pipeline_settings,
        simulated_prometheus.tenant_ids[0],
        simulated_prometheus.days[0],
    )
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("THANOS_URL", settings.thanos_url)
    result = CliRunner().invoke(cli, ["run", "--date", day.isoformat(), "--tenant", tenant])
    assert result.exit_code == 0, result.output
    by_cli = ledger_record(settings, tenant, day)
    run_steps(settings, tenant, day)
    by_dag = ledger_record(settings, tenant, day)
    orchestration.replay(settings, tenant, day)
    by_replay = ledger_record(settings, tenant, day)
    assert (by_cli["status"], by_cli["stage"], by_cli["run_id"]) == (
        "succeeded",
        "check",
        "k8scost-run",
    )
    assert by_cli["source"]["samples"] > 0 and by_cli["extract_url"] != by_dag["extract_url"]
    assert set(by_cli) == set(by_dag) == set(by_replay)
    assert comparable(by_cli) == comparable(by_dag) == comparable(by_replay)
    assert (by_dag["run_id"], by_replay["run_id"]) == ("test-run", "replay")


def test_replay_applies_a_transform_changed_after_the_day_was_archived(
    pipeline_settings, simulated_prometheus, monkeypatch
):
    """The archive holds Thanos' answers, not the lives derived from them: a change to
    lives.py made after a day was archived gives, on `k8scost replay`, what a fresh
    extract under the change gives (and not what was loaded before)."""
    settings = pipeline_settings
    tenant, day, _ = run_and_store(settings, simulated_prometheus, 1)
    before = stored_allocation(settings, tenant, day).set_index("resource_id")
    original_rows = lives.rows

    def ending_an_hour_earlier(lived: lives.Lives, edge: str) -> list[list[object]]:
        found = original_rows(lived, edge)
        if edge != "last":
            return found
        return [[*row[:-1], max(lived.edges[tuple(row[:-1])][0], row[-1] - 3600)] for row in found]

    monkeypatch.setattr(lives, "rows", ending_an_hour_earlier)
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("THANOS_URL", "http://127.0.0.1:9")  # replay never asks Thanos
    result = CliRunner().invoke(cli, ["replay", "--date", day.isoformat(), "--tenant", tenant])
    assert result.exit_code == 0, result.output
    replayed = stored_allocation(settings, tenant, day).set_index("resource_id")
    run_steps(settings, tenant, day)  # from Thanos, under the same change
    fresh = stored_allocation(settings, tenant, day).set_index("resource_id")
    pd.testing.assert_frame_equal(replayed.sort_index(), fresh.sort_index())
    hours = replayed["running_hours"].sub(before["running_hours"])
    assert (hours <= 1e-9).all() and (hours < -0.5).any()


def test_an_archive_of_an_older_contract_is_refused_naming_both_versions(
    pipeline_settings, simulated_prometheus, monkeypatch
):
    settings = pipeline_settings
    tenant, day, original = run_and_store(settings, simulated_prometheus, 0)
    url = ledger_record(settings, tenant, day)["extract_url"]
    manifest = archive.read_manifest(settings, url)
    manifest["contract_version"] = 1
    archive._store(settings, url).put(archive.MANIFEST, json.dumps(manifest).encode())
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(cli, ["replay", "--date", day.isoformat(), "--tenant", tenant])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: extract {url} holds contract version 1, ")
    assert f"reads contract version {CONTRACT_VERSION} only" in result.output
    assert stored_day(settings, tenant, day) == original  # nothing loaded, nothing erased
