"""The allocation end to end against a real Prometheus, checked against the analytic truth.


On the session's default history (2 clusters x 2 days, 60 s scrape): every group, the
cluster row, the reconciliation, a rerun, the cluster document and the API's groups and
filters. The pitfalls, the exporter shapes and the query count are in
test_allocation_shapes.py.

The tests that only read what the tenant-days stored share one run of each (`costed`);
those that rerun a day or watch the runs' order have stores of their own.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from devtools.simulate.exporters import DEFAULT_EXPORTER, shape_named
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.storage.reconciliations import COLLECTION
from tests.allocation_checks import (
    ABS,
    IDLE,
    REL,
    UNMOUNTED,
    api_over_history,
    assert_groups_add_up,
    assert_matches_truth,
    register,
    run,
    run_every_day,
    stored_allocation,
)
from tests.stored import stored_day
from tests.truth import (
    COST_KEYS,
    allocation_by,
    day_bounds,
    expected_allocation,
    expected_day_costs,
)

pytestmark = pytest.mark.e2e


def registered(data_dir: Path, simulated_prometheus) -> Settings:
    """Stores under `data_dir` with the clusters' cost models in their accounts."""
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(data_dir), "THANOS_URL": simulated_prometheus.url}
    )
    register(settings, simulated_prometheus.scenario)
    return settings


@pytest.fixture
def allocation_settings(tmp_path: Path, simulated_prometheus) -> Settings:
    """Like pipeline_settings, with the clusters' cost models in their accounts."""
    return registered(tmp_path / "data", simulated_prometheus)


@pytest.fixture(scope="module")
def costed(tmp_path_factory: pytest.TempPathFactory, simulated_prometheus) -> SimpleNamespace:
    """Every tenant-day of the history run once, in stores of the module's own:
    `settings`, `results` ((tenant, day) -> its DayResult) and `get` (the API over them).

    Why: the tests that only read the stored rows, the reconciliation and the API's
    answers each ran the same tenant-days on fresh stores, and a tenant-day's run is
    the costly part; what it stores does not depend on the other tenant-days run."""
    settings = registered(tmp_path_factory.mktemp("costed") / "data", simulated_prometheus)
    results = run_every_day(settings, simulated_prometheus)
    get = api_over_history(settings, simulated_prometheus)
    return SimpleNamespace(settings=settings, results=results, get=get)


def test_every_namespace_controller_and_node_matches_the_truth(costed, simulated_prometheus):
    """On the default shape: OpenCost's container series without a uid."""
    assert simulated_prometheus.scenario["exporter"] == DEFAULT_EXPORTER
    assert "uid" not in shape_named(DEFAULT_EXPORTER).families["container_cpu_allocation"].labels
    checked = 0
    for tenant in simulated_prometheus.tenant_ids:
        for day in simulated_prometheus.days:
            result = costed.results[(tenant, day)]
            rows = stored_allocation(costed.settings, tenant, day)
            assert_matches_truth(rows, simulated_prometheus.scenario, tenant, day)
            assert_groups_add_up(rows, result)
            assert set(rows["live_rows"]) == {1}
            checked += 1
    assert checked == 4


def test_the_cluster_row_is_the_sum_of_its_allocation_rows(costed, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[1]
    result = costed.results[(tenant, day)]
    rows = stored_allocation(costed.settings, tenant, day)
    stored = stored_day(costed.settings, tenant, day)
    pods = rows[~rows["namespace"].isin([IDLE, UNMOUNTED])]
    idle, unmounted = rows[rows["namespace"] == IDLE], rows[rows["namespace"] == UNMOUNTED]
    assert stored["cost"] == pytest.approx(
        pods["cost"].sum() + idle["cost"].sum() + unmounted["cost"].sum(), rel=1e-12
    )
    for component in COST_KEYS:
        assert stored[component] == pytest.approx(rows[component].sum(), rel=1e-12, abs=1e-12)
    asset = expected_day_costs(simulated_prometheus.scenario, tenant, day)
    assert stored["cost"] == pytest.approx(sum(asset.values()), rel=REL)
    assert result.cost == pytest.approx(stored["cost"], rel=1e-12)
    assert len(idle) == len(set(idle["node"])) >= 4 and len(unmounted) >= 1


def test_the_daily_reconciliation_is_stored(costed, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[1], simulated_prometheus.days[0]
    result = costed.results[(tenant, day)]
    database = registry.open_database(costed.settings.mongo_uri, costed.settings.mongo_db)
    check = database[COLLECTION].find_one({"_id": f"{tenant}:{day.isoformat()}"})
    assert check["ok"] is True and check["cloud_account_id"] == tenant
    for component in [*COST_KEYS, "cost"]:
        part = check["components"][component]
        assert part["allocated"] == pytest.approx(part["asset"], rel=1e-9, abs=1e-6)
        assert part["pods"] + part["idle"] + part["unmounted"] == pytest.approx(part["allocated"])
    assert check["components"]["cost"]["asset"] == pytest.approx(result.cost, rel=1e-9)
    assert not [issue for issue in result.issues if "reconcile" in issue]


def test_a_rerun_restates_the_allocation_exactly(allocation_settings, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[0]
    run(allocation_settings, tenant, day)
    first = stored_allocation(allocation_settings, tenant, day).sort_values("resource_id")
    with connect(allocation_settings.clickhouse_dsn) as client:  # a row no rerun produces
        stale = first.iloc[:1][["resource_id", "namespace", "pod", "cost"]].assign(
            resource_id="stale-row", cloud_account_id=tenant, date=warehouse.day_start(day), sign=1
        )
        client.insert_df("k8s_allocation", stale.astype({"sign": "int8"}))
    run(allocation_settings, tenant, day)
    run(allocation_settings, tenant, day)
    again = stored_allocation(allocation_settings, tenant, day).sort_values("resource_id")
    assert "stale-row" not in set(again["resource_id"])
    assert set(again["live_rows"]) == {1}
    pd.testing.assert_frame_equal(
        first.reset_index(drop=True), again.reset_index(drop=True), check_exact=False, rtol=1e-12
    )


def test_node_provider_ids_accumulate_on_the_cluster_document(
    allocation_settings, simulated_prometheus
):
    sim = simulated_prometheus
    tenant = sim.tenant_ids[0]
    nodes = next(c for c in sim.scenario["clusters"] if c["tenant_id"] == tenant)["nodes"]
    database = registry.open_database(allocation_settings.mongo_uri, allocation_settings.mongo_db)
    seen: set[str] = set()
    for day in reversed(sim.days):  # the replaced node only lives on the first day
        run(allocation_settings, tenant, day)
        lo, hi = day_bounds(day)
        seen |= {n["provider_id"] for n in nodes if n["start"] < hi and n["end"] > lo}
        document = database.resources.find_one({"_id": registry.cluster_resource_id(tenant)})
        assert document["meta"]["node_provider_ids"] == sorted(seen)
    assert len(seen) == 5


def test_the_api_groups_filters_and_totals_the_allocation(costed, simulated_prometheus):
    sim = simulated_prometheus
    get = partial(costed.get, "k8s_costs")
    truth = [
        row
        for t in sim.tenant_ids
        for d in sim.days
        for row in expected_allocation(sim.scenario, t, d)
    ]
    total = sum(stored_day(costed.settings, t, d)["cost"] for t in sim.tenant_ids for d in sim.days)
    by_namespace = get(group_by="namespace")
    assert by_namespace["total_cost"] == pytest.approx(total, rel=1e-9)
    costs = [group["cost"] for group in by_namespace["groups"]]
    assert costs == sorted(costs, reverse=True)
    expected = allocation_by(truth, "namespace")
    assert {g["key"]: g["cpu_cost"] for g in by_namespace["groups"]} == pytest.approx(
        {k: v["cpu_cost"] for k, v in expected.items()}, rel=REL, abs=ABS
    )
    by_controller = get(group_by="controller", namespace=["web"])
    assert [g["key"] for g in by_controller["groups"]] == ["Deployment/web"]
    assert by_controller["total_cost"] == pytest.approx(
        sum(v for k, v in (expected["web"]).items()), rel=REL
    )
    by_team = get(group_by="label:team", limit=2)
    assert len(by_team["groups"]) == 2 and by_team["total_count"] > 2
    assert by_team["total_cost"] == pytest.approx(total, rel=1e-9)
    shop = get(group_by="pod", label=["team:shop"], cloud_account_id=[sim.tenant_ids[0]])
    assert shop["groups"] and all(g["key"].split("/")[0] in ("web", "api") for g in shop["groups"])
    assert all(g["pod_uid"] for g in shop["groups"])
    node = next(row["node"] for row in truth if row["namespace"] == IDLE)
    on_node = get(group_by="namespace", node=[node])
    assert IDLE in {g["key"] for g in on_node["groups"]}
    assert "group_by" in get(status=400, group_by="team")["detail"]


def test_the_k8s_service_filters_cost_the_rows_of_the_selected_pods(costed, simulated_prometheus):
    """clean_expenses?k8s_service= and k8s_costs?service= against the truth's rows."""
    sim = simulated_prometheus
    get = costed.get
    truth = {
        tenant: [row for day in sim.days for row in expected_allocation(sim.scenario, tenant, day)]
        for tenant in sim.tenant_ids
    }

    def expected(services: list[str], namespaces: tuple[str, ...] = ()) -> dict[str, dict]:
        """Per tenant with matching rows: every component summed over those rows."""
        found = {}
        for tenant, rows in truth.items():
            kept = [
                row
                for row in rows
                if set(row["services"]) & set(services)
                and (not namespaces or row["namespace"] in namespaces)
            ]
            if kept:
                found[tenant] = {key: sum(row[key] for row in kept) for key in COST_KEYS}
        return found

    for services in (["web-lb"], ["api-lb", "web-lb"], ["web-lb", "no-such-service"]):
        wanted = expected(services)
        assert len(wanted) == len(sim.tenant_ids)
        body = get("clean_expenses", k8s_service=services)
        got = {item["cloud_account_id"]: item for item in body["clean_expenses"]}
        assert set(got) == set(wanted), services
        for tenant, parts in wanted.items():
            assert got[tenant]["k8s_costs"] == pytest.approx(parts, rel=REL, abs=ABS)
            assert got[tenant]["cost"] == pytest.approx(sum(parts.values()), rel=REL)
        assert body["total_count"] == len(wanted)
        total = sum(sum(parts.values()) for parts in wanted.values())
        assert body["total_cost"] == pytest.approx(total, rel=REL)
        grouped = get("k8s_costs", group_by="namespace", service=services)
        assert grouped["total_cost"] == pytest.approx(total, rel=REL)
        assert {group["key"] for group in grouped["groups"]} <= {"web", "api", UNMOUNTED}
    narrowed = get("clean_expenses", k8s_service=["web-lb"], k8s_namespace=["web"], limit=1)
    wanted = expected(["web-lb"], ("web",))
    assert narrowed["total_cost"] == pytest.approx(
        sum(sum(parts.values()) for parts in wanted.values()), rel=REL
    )
    assert narrowed["total_count"] == len(wanted) and len(narrowed["clean_expenses"]) == 1
    unknown = get("clean_expenses", k8s_service=["no-such-service"])
    assert (unknown["total_count"], unknown["total_cost"], unknown["clean_expenses"]) == (0, 0, [])
