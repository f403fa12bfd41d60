"""The allocation end to end against a real Prometheus, checked against the analytic truth.

Three histories: the session's default one (2 clusters x 2 days, 60 s scrape), one
with a cluster per pitfall of the field (each alone, one day, 5 min scrape), and a
50-pod cluster (one day, hourly scrape) to count queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api import auth
from api.app import create_app
from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import build_scenario, write_openmetrics
from devtools.simulate.exporters import DEFAULT_EXPORTER, SHAPES, shape_named
from devtools.simulate.pitfalls import PITFALLS
from etl.core.config import Settings
from etl.metroculus.extract import QUERY_COUNT
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import DayResult, run_tenant_day
from etl.worker.reconciliations import COLLECTION
from tests.stored import stored_day
from tests.truth import (
    COST_KEYS,
    allocation_by,
    day_bounds,
    expected_allocation,
    expected_day_costs,
)

pytestmark = pytest.mark.e2e

# The acceptance bound: every component of every group within 0.01% of the truth
# (and a billionth of a dollar where the truth is zero).
REL = 1e-4
ABS = 1e-9
PITFALL_DAY = date(2026, 6, 2)
PITFALL_STEP_S = 300
IDLE, UNMOUNTED = "__idle__", "__unmounted__"


def stored_allocation(settings: Settings, tenant: str, day: date) -> pd.DataFrame:
    """The live allocation rows of a tenant-day, collapsed the way every reader must."""
    sums = ", ".join(f"sum({column} * sign) AS {column}" for column in [*COST_KEYS, "cost"])
    with connect(settings.clickhouse_dsn) as client:
        rows = client.query_df(
            "SELECT resource_id, any(namespace) AS namespace, "
            "any(controller_kind) AS controller_kind, any(controller) AS controller, "
            "any(pod) AS pod, any(pod_uid) AS pod_uid, any(node) AS node, "
            "any(price_flag) AS price_flag, sum(running_hours * sign) AS running_hours, "
            f"any(labels) AS labels, any(services) AS services, {sums}, "
            "sum(sign) AS live_rows FROM k8s_allocation "
            "WHERE cloud_account_id = {tenant:String} AND toDate(date) = {day:Date} "
            "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0",
            parameters={"tenant": tenant, "day": day},
        )
    rows["controller_key"] = [
        f"{kind}/{name}" if kind else name
        for kind, name in zip(rows["controller_kind"], rows["controller"], strict=True)
    ]
    return rows


def assert_matches_truth(rows: pd.DataFrame, scenario: dict, tenant: str, day: date) -> None:
    """Every component of every namespace, controller and node within REL of the truth,
    and the Services of every pod and load balancer row exactly.

    Except network per node: egress counters have no uid, so a name two pods used in
    the day is split by running hours (the pods' namespace and controller are one).
    """
    truth = expected_allocation(scenario, tenant, day)
    pods = rows[rows["pod_uid"] != ""]
    assert dict(zip(pods["pod_uid"], map(list, pods["services"]), strict=True)) == {
        row["pod"]: row["services"] for row in truth if row["namespace"] not in (IDLE, UNMOUNTED)
    }
    unmounted = rows[rows["namespace"] == UNMOUNTED]
    assert sorted(map(list, unmounted["services"])) == sorted(
        row["services"] for row in truth if row["namespace"] == UNMOUNTED
    )
    for ours, theirs in (
        ("namespace", "namespace"),
        ("controller_key", "controller"),
        ("node", "node"),
    ):
        got = rows.groupby(ours)[list(COST_KEYS)].sum().to_dict("index")
        expected = allocation_by(truth, theirs)
        assert set(got) == set(expected), (ours, set(got) ^ set(expected))
        for group, components in expected.items():
            for component, value in components.items():
                if ours == "node" and component == "network_cost":
                    continue
                assert got[group][component] == pytest.approx(value, rel=REL, abs=ABS), (
                    ours,
                    group,
                    component,
                )


def register(settings: Settings, scenario: dict) -> None:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    for cluster in scenario["clusters"]:
        registry.add_account(
            database,
            cluster["organization_id"],
            cluster["name"],
            cluster["tenant_id"],
            {
                "scrape_interval_seconds": scenario["scrape_interval_s"],
                "cost_model": cluster["cost_model"],
            },
        )
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)


def run(settings: Settings, tenant: str, day: date) -> DayResult:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant])
    return run_tenant_day(settings, database, account, day)


@pytest.fixture
def allocation_settings(tmp_path: Path, simulated_prometheus) -> Settings:
    """Like pipeline_settings, with the clusters' cost models in their accounts."""
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path / "data"), "THANOS_URL": simulated_prometheus.url}
    )
    register(settings, simulated_prometheus.scenario)
    return settings


def merged_history(
    root: Path, scenarios: dict[str, dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One Prometheus over several one-cluster scenarios of the same window: (url, scenario).

    Clusters rendered in one exporter shape are written together; each shape is its
    own backfill into the same TSDB.
    """
    first = next(iter(scenarios.values()))
    clusters = [{**s["clusters"][0], "name": name} for name, s in scenarios.items()]
    scenario = {**first, "pitfalls": sorted({p for s in scenarios.values() for p in s["pitfalls"]})}
    scenario["clusters"] = clusters
    shapes = {s["exporter"] for s in scenarios.values()}
    for shape in sorted(shapes):
        written = {
            **scenario,
            "exporter": shape,
            "clusters": [
                c
                for c, s in zip(clusters, scenarios.values(), strict=True)
                if s["exporter"] == shape
            ],
        }
        write_openmetrics(written, root / "metrics.om")
        backfill(root / "metrics.om", root / "tsdb")
        (root / "metrics.om").unlink()
    with PrometheusServer(root / "tsdb") as server:
        yield server.url, scenario


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


def test_every_namespace_controller_and_node_matches_the_truth(
    allocation_settings, simulated_prometheus
):
    """On the default shape: OpenCost's container series without a uid."""
    assert simulated_prometheus.scenario["exporter"] == DEFAULT_EXPORTER
    assert "uid" not in shape_named(DEFAULT_EXPORTER).families["container_cpu_allocation"].labels
    checked = 0
    for tenant in simulated_prometheus.tenant_ids:
        for day in simulated_prometheus.days:
            result = run(allocation_settings, tenant, day)
            rows = stored_allocation(allocation_settings, tenant, day)
            assert_matches_truth(rows, simulated_prometheus.scenario, tenant, day)
            assert_groups_add_up(rows, result)
            assert set(rows["live_rows"]) == {1}
            checked += 1
    assert checked == 4


def assert_groups_add_up(rows: pd.DataFrame, result: DayResult) -> None:
    """Namespaces and controllers each sum to the cluster-day's stored cost, and pods ran
    with a cost of their own (not everything in __idle__)."""
    for key in ("namespace", "controller_key"):
        assert rows.groupby(key)["cost"].sum().sum() == pytest.approx(result.cost, rel=1e-12)
    pods = rows[~rows["namespace"].isin([IDLE, UNMOUNTED])]
    assert pods["cpu_cost"].sum() > 0 and pods["ram_cost"].sum() > 0
    assert result.quality_failures == []


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


def test_the_cluster_row_is_the_sum_of_its_allocation_rows(
    allocation_settings, simulated_prometheus
):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[1]
    result = run(allocation_settings, tenant, day)
    rows = stored_allocation(allocation_settings, tenant, day)
    stored = stored_day(allocation_settings, tenant, day)
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


def test_the_daily_reconciliation_is_stored(allocation_settings, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[1], simulated_prometheus.days[0]
    result = run(allocation_settings, tenant, day)
    database = registry.open_database(allocation_settings.mongo_uri, allocation_settings.mongo_db)
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


def api_over_every_day(settings: Settings, sim: Any) -> Callable[..., dict[str, Any]]:
    """Run every tenant-day of the history; then `get(route, status=200, **query)` is the
    JSON answer of the organization's `route` over the whole history."""
    for tenant in sim.tenant_ids:
        for day in sim.days:
            run(settings, tenant, day)
    organization = sim.scenario["clusters"][0]["organization_id"]
    start, end = day_bounds(sim.days[0])[0], day_bounds(sim.days[-1])[0]
    client = create_app(settings).test_client()
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    bearer = {"Authorization": f"Bearer {auth.issue_token(database, organization)}"}

    def get(route: str, status: int = 200, **query: Any) -> dict[str, Any]:
        response = client.get(
            f"/restapi/v2/organizations/{organization}/{route}",
            query_string={"start_date": start, "end_date": end, **query},
            headers=bearer,
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    return get


def test_the_api_groups_filters_and_totals_the_allocation(
    allocation_settings, simulated_prometheus
):
    sim = simulated_prometheus
    get = partial(api_over_every_day(allocation_settings, sim), "k8s_costs")
    truth = [
        row
        for t in sim.tenant_ids
        for d in sim.days
        for row in expected_allocation(sim.scenario, t, d)
    ]
    total = sum(
        stored_day(allocation_settings, t, d)["cost"] for t in sim.tenant_ids for d in sim.days
    )
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


def test_the_k8s_service_filters_cost_the_rows_of_the_selected_pods(
    allocation_settings, simulated_prometheus
):
    """clean_expenses?k8s_service= and k8s_costs?service= against the truth's rows."""
    sim = simulated_prometheus
    get = api_over_every_day(allocation_settings, sim)
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
    assert set(counts.values()) == {QUERY_COUNT + 1}  # and the ledger's sample count
