"""The allocation end to end on histories of the field's shapes, against the analytic truth.

A cluster per pitfall of the field (each alone, one day, 5 min scrape; for per-core cpu
counters, the usage too), a cluster per exporter shape (docs/exporters.md), and a
50-pod cluster (one day, hourly scrape) to count queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.simulate import build_scenario
from devtools.simulate.exporters import SHAPES
from devtools.simulate.pitfalls import PITFALLS
from etl.core.config import Settings
from etl.metroculus.extract import QUERY_COUNT
from tests.allocation_checks import (
    IDLE,
    PITFALL_DAY,
    PITFALL_STEP_S,
    assert_groups_add_up,
    assert_matches_truth,
    merged_history,
    register,
    run,
    stored_allocation,
)
from tests.stored import stored_usage
from tests.truth_usage import expected_usage

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pitfall_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """A cluster per pitfall, each alone in its cluster, over one day at a 5 min scrape."""
    scenarios = {
        f"pitfall-{name}": build_scenario(
            1, 1, PITFALL_DAY, seed=100 + n, scrape_interval_s=PITFALL_STEP_S, pitfalls=[name]
        )
        for n, name in enumerate(PITFALLS)
    }
    yield from merged_history(tmp_path_factory.mktemp("pitfalls"), scenarios)


@pytest.fixture
def pitfalls(tmp_path: Path, pitfall_history) -> tuple[Settings, dict, dict[str, str]]:
    """(settings, scenario, pitfall -> tenant) with every pitfall cluster registered."""
    url, scenario = pitfall_history
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data"), "THANOS_URL": url})
    register(settings, scenario)
    tenants = {c["name"].removeprefix("pitfall-"): c["tenant_id"] for c in scenario["clusters"]}
    return settings, scenario, tenants


@pytest.fixture(scope="module")
def shape_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """A cluster per exporter shape (a pod name reused on its last day), one day at 5 min."""
    scenarios = {
        f"shape-{name}": build_scenario(
            1,
            1,
            PITFALL_DAY,
            seed=300 + n,
            scrape_interval_s=PITFALL_STEP_S,
            pitfalls=["name_reuse"],
            exporter=name,
        )
        for n, name in enumerate(sorted(SHAPES))
    }
    yield from merged_history(tmp_path_factory.mktemp("shapes"), scenarios)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_exporter_shape_allocates_as_the_truth(tmp_path, shape_history, shape):
    """Each supported producer's label sets (docs/exporters.md) give the truth's groups."""
    url, scenario = shape_history
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data"), "THANOS_URL": url})
    register(settings, scenario)
    (cluster,) = [c for c in scenario["clusters"] if c["name"] == f"shape-{shape}"]
    result = run(settings, cluster["tenant_id"], PITFALL_DAY)
    rows = stored_allocation(settings, cluster["tenant_id"], PITFALL_DAY)
    assert_matches_truth(rows, scenario, cluster["tenant_id"], PITFALL_DAY)
    assert_groups_add_up(rows, result)
    assert not [issue for issue in result.issues if "reconcile" in issue]
    reused = rows[rows["pod"].str.endswith("-0") & (rows["controller_kind"] == "StatefulSet")]
    assert len(set(reused["pod_uid"])) == 2 and len(set(reused["node"])) == 2


@pytest.mark.parametrize("pitfall", PITFALLS)
def test_each_pitfall_is_allocated_as_the_truth_says(pitfalls, pitfall):
    settings, scenario, tenants = pitfalls
    result = run(settings, tenants[pitfall], PITFALL_DAY)
    rows = stored_allocation(settings, tenants[pitfall], PITFALL_DAY)
    assert_matches_truth(rows, scenario, tenants[pitfall], PITFALL_DAY)
    assert not [issue for issue in result.issues if "reconcile" in issue]


def test_a_completed_job_costs_only_while_it_ran(pitfalls):
    settings, _, tenants = pitfalls
    run(settings, tenants["lingering_job"], PITFALL_DAY)
    rows = stored_allocation(settings, tenants["lingering_job"], PITFALL_DAY)
    (job,) = rows[rows["controller_kind"] == "Job"].itertuples()
    assert job.running_hours == pytest.approx(1.5)


def test_a_reused_pod_name_is_two_pods(pitfalls):
    settings, _, tenants = pitfalls
    run(settings, tenants["name_reuse"], PITFALL_DAY)
    rows = stored_allocation(settings, tenants["name_reuse"], PITFALL_DAY)
    postgres = rows[rows["pod"] == "postgres-0"].sort_values("running_hours")
    assert len(set(postgres["pod_uid"])) == 2 and len(set(postgres["node"])) == 2
    assert list(postgres["running_hours"]) == pytest.approx([9.5, 14.0])
    assert (postgres["pv_cost"] > 0).all()


@pytest.mark.parametrize(
    ("pitfall", "flag", "words"),
    [
        ("price_outlier", "price_outlier", "implausible gpu price"),
        ("unpriced_node", "cost_model", "no cpu price"),
    ],
)
def test_a_node_priced_by_the_cost_model_is_flagged(pitfalls, pitfall, flag, words):
    settings, _, tenants = pitfalls
    result = run(settings, tenants[pitfall], PITFALL_DAY)
    rows = stored_allocation(settings, tenants[pitfall], PITFALL_DAY)
    flagged = rows[rows["price_flag"] == flag]
    assert set(flagged["namespace"]) >= {IDLE} and len(flagged) >= 2
    assert any(words in issue for issue in result.issues)
    assert result.cost < 1000  # 3.8e8 $/h never reaches the bill


def test_per_core_cpu_series_add_up_to_each_pod_s_usage(pitfalls):
    """cAdvisor's cpu counter served per core (`per_cpu_usage`): the stored used
    core-hours are the profile's (tests/truth_usage.py), not one core's share."""
    settings, scenario, tenants = pitfalls
    tenant = tenants["per_cpu_usage"]
    run(settings, tenant, PITFALL_DAY)
    truth = expected_usage(scenario, tenant, PITFALL_DAY)
    pods = {row["pod_uid"]: row for row in stored_usage(settings, tenant, PITFALL_DAY)}
    measured = {uid: row for uid, row in truth.items() if row["cpu_used_core_hours"]}
    assert measured and set(measured) <= set(pods)
    for uid, expected in measured.items():
        for column in ("cpu_used_core_hours", "ram_used_byte_hours"):
            assert pods[uid][column] == pytest.approx(expected[column], rel=1e-4), (uid, column)


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """A 50-pod cluster over one day at an hourly scrape."""
    scenarios = {
        "pods-50": build_scenario(
            1, 1, PITFALL_DAY, seed=201, scrape_interval_s=3600, nodes=4, pods=50
        )
    }
    yield from merged_history(tmp_path_factory.mktemp("sizes"), scenarios)


def test_a_real_tenant_day_sends_the_query_count_of_any_size(tmp_path, small_cluster):
    """The count at 5,000 pods is the extract's own (tests/unit/test_query_count.py, the
    same code against a stand-in answering as 5,000 pods): a real 50-pod day sends it."""
    url, scenario = small_cluster
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data"), "THANOS_URL": url})
    register(settings, scenario)
    counts = {}
    for cluster in scenario["clusters"]:
        result = run(settings, cluster["tenant_id"], PITFALL_DAY)
        rows = stored_allocation(settings, cluster["tenant_id"], PITFALL_DAY)
        counts[len(rows[rows["pod_uid"] != ""])] = result.promql_queries
        assert not [issue for issue in result.issues if "reconcile" in issue]
    assert sorted(counts) == [50]
    assert set(counts.values()) == {QUERY_COUNT}  # the ledger's count is round 1's
