"""Shared costs end to end: every sharing option against tests/truth_sharing.py.

One history, loaded once for the module: two clusters over one day at a 5 min scrape,
one rendered as OpenCost's own emitters send (`opencost`), one with a real
kube-state-metrics v2 (`ksm2`): both exporter shapes of docs/exporters.md that change
the allocation's join. Every combination of options is then one query of the same
stored allocation, compared with the truth within 0.01%, and its groups must add up
to the clusters' cost plus the overhead.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from api.app import create_app
from devtools.simulate import build_scenario
from etl.core.config import Settings
from etl.core.sharing import SharingPolicy
from etl.storage import registry
from k8scost.cli import cli
from tests.e2e.test_allocation_e2e import (
    PITFALL_DAY,
    api_over_every_day,
    merged_history,
    register,
)
from tests.stored import stored_day, stored_usage
from tests.truth import COST_KEYS, expected_allocation
from tests.truth_sharing import PARTS, expected_shared_groups
from tests.truth_usage import expected_recommendations, expected_usage

pytestmark = pytest.mark.e2e

REL, ABS = 1e-4, 1e-6
SHARING_OPTIONS = tuple(SharingPolicy().document())
SHAPES = ("opencost", "ksm2")
IDLE_OPTIONS = [
    {},
    {"share_idle": "weighted"},
    {"share_idle": "weighted", "idle_by": "node"},
    {"share_idle": "even"},
    {"share_idle": "even", "idle_by": "node"},
]
POOL_OPTIONS = [
    {},
    {"share_namespaces": "kube-system"},
    {"share_labels": "team:platform"},
    {"share_namespaces": "kube-system,data", "share_labels": "app:api"},
]
SPLITS = ["weighted", "even"]
OVERHEAD = 1.5


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both clusters costed once; `get(route, status, **query)` asks the API."""
    scenarios = {
        f"share-{shape}": build_scenario(
            1, 1, PITFALL_DAY, seed=400 + n, scrape_interval_s=300, exporter=shape
        )
        for n, shape in enumerate(SHAPES)
    }
    root = tmp_path_factory.mktemp("sharing")
    with contextlib.closing(merged_history(root, scenarios)) as history:
        url, scenario = next(history)
        settings = Settings.from_env({"K8SCOST_DATA_DIR": str(root / "data"), "THANOS_URL": url})
        register(settings, scenario)
        tenants = [cluster["tenant_id"] for cluster in scenario["clusters"]]
        history_view = SimpleNamespace(tenant_ids=tenants, days=[PITFALL_DAY], scenario=scenario)
        get = api_over_every_day(settings, history_view)  # runs every tenant-day
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return {
        "get": get,
        "scenario": scenario,
        "tenants": tenants,
        "settings": settings,
        "database": database,
        "organization": scenario["clusters"][0]["organization_id"],
        "truth": [(t, expected_allocation(scenario, t, PITFALL_DAY)) for t in tenants],
        "total": sum(stored_day(settings, t, PITFALL_DAY)["cost"] for t in tenants),
    }


def _truth(loaded: dict[str, Any], group_by: str, options: dict[str, Any]) -> dict[str, dict]:
    return expected_shared_groups(
        loaded["scenario"],
        loaded["truth"],
        group_by,
        share_idle=options.get("share_idle", "none"),
        idle_by=options.get("idle_by", "cluster"),
        share_namespaces=[n for n in options.get("share_namespaces", "").split(",") if n],
        share_labels=[n for n in options.get("share_labels", "").split(",") if n],
        share_split=options.get("share_split", "weighted"),
        overhead_hourly=options.get("shared_overhead_hourly", 0.0),
    )


def assert_groups_match(body: dict[str, Any], truth: dict[str, dict], options: dict) -> None:
    got = {group["key"]: group for group in body["groups"]}
    assert set(got) == set(truth), (options, set(got) ^ set(truth))
    for key, expected in truth.items():
        group = got[key]
        assert group["cost"] == pytest.approx(expected["cost"], rel=REL, abs=ABS), (options, key)
        for component in COST_KEYS:
            assert group[component] == pytest.approx(expected[component], rel=REL, abs=ABS), (
                options,
                key,
                component,
            )
        for part in PARTS:
            assert group["shared"][part] == pytest.approx(
                expected["shared"][part], rel=REL, abs=ABS
            ), (options, key, part)
        own = sum(group[component] for component in COST_KEYS)
        assert group["cost"] == pytest.approx(own + sum(group["shared"].values()), rel=1e-9)


def _combinations() -> Iterator[dict[str, Any]]:
    """Every share_idle x idle_by x pool x share_split, the overhead on every other one
    (it depends on the pool and the split only, so each of their pairs sees both)."""
    for (i, idle), (p, pool), (s, split) in itertools.product(
        enumerate(IDLE_OPTIONS), enumerate(POOL_OPTIONS), enumerate(SPLITS)
    ):
        options = {**idle, **pool, "share_split": split}
        if (i + p + s) % 2:
            options["shared_overhead_hourly"] = OVERHEAD
        if options != {"share_split": "weighted"}:
            yield options


def test_every_sharing_combination_matches_the_truth_and_adds_up(loaded):
    """Each combination, by namespace: groups and parts as the truth, sums reconcile."""
    checked = 0
    for options in _combinations():
        body = loaded["get"]("k8s_costs", group_by="namespace", **options)
        assert_groups_match(body, _truth(loaded, "namespace", options), options)
        overhead = options.get("shared_overhead_hourly", 0.0) * 24 * len(loaded["tenants"])
        assert body["total_cost"] == pytest.approx(loaded["total"] + overhead, rel=1e-9)
        assert sum(g["cost"] for g in body["groups"]) == pytest.approx(body["total_cost"])
        for part in PARTS:
            assert body["totals"]["shared"][part] == pytest.approx(
                sum(g["shared"][part] for g in body["groups"]), abs=1e-9
            )
        if options.get("share_idle", "none") != "none":
            assert body["totals"]["shared"]["idle"] > 0
        assert body["sharing"]["share_split"] == options["share_split"]
        checked += 1
    assert checked == 39


@pytest.mark.parametrize(
    "options",
    [
        {"share_idle": "weighted", "idle_by": "node"},
        {"share_idle": "even", "share_namespaces": "kube-system", "share_split": "even"},
        {"share_idle": "weighted", "share_labels": "team:platform", "shared_overhead_hourly": 2},
    ],
)
@pytest.mark.parametrize("group_by", ["node", "controller"])
def test_other_groupings_share_as_the_truth(loaded, group_by, options):
    body = loaded["get"]("k8s_costs", group_by=group_by, **options)
    assert_groups_match(body, _truth(loaded, group_by, options), options)
    overhead = options.get("shared_overhead_hourly", 0) * 24 * len(loaded["tenants"])
    assert body["total_cost"] == pytest.approx(loaded["total"] + overhead, rel=1e-9)


def test_a_filtered_group_keeps_its_share_of_the_whole_cluster(loaded):
    """A team looking at its own namespace sees the share the unfiltered answer gives it."""
    options = {"share_idle": "even", "share_namespaces": "kube-system", "share_split": "even"}
    whole = {g["key"]: g for g in loaded["get"]("k8s_costs", **options)["groups"]}
    web = loaded["get"]("k8s_costs", k8s_namespace="web", **options)
    (group,) = web["groups"]
    assert group["cost"] == pytest.approx(whole["web"]["cost"], rel=1e-9)
    assert group["shared"] == pytest.approx(whole["web"]["shared"], rel=1e-9)


def test_without_sharing_the_answer_is_unchanged(loaded):
    plain = loaded["get"]("k8s_costs", group_by="namespace")
    assert "sharing" not in plain and all("shared" not in g for g in plain["groups"])
    assert plain["total_cost"] == pytest.approx(loaded["total"], rel=1e-9)
    assert "__idle__" in {g["key"] for g in plain["groups"]}


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"share_idle": "maybe"}, "share_idle"),
        ({"idle_by": "pod"}, "idle_by"),
        ({"share_split": "half"}, "share_split"),
        ({"share_labels": "team"}, "key:value"),
        ({"shared_overhead_hourly": -1}, ">= 0"),
        ({"shared_overhead_hourly": "nan"}, "shared_overhead_hourly"),
        ({"share_namespaces": "__idle__"}, "share_idle"),
    ],
)
@pytest.mark.parametrize("route", ["k8s_costs", "clean_expenses"])
def test_bad_sharing_values_are_400_problems(loaded, route, query, words):
    problem = loaded["get"](route, status=400, **query)
    assert words in str(problem)


def test_organization_defaults_apply_and_parameters_override_them(loaded):
    """`k8scost sharing set` stores defaults; the API starts from them, parameters win."""
    organization = loaded["organization"]
    env = {"K8SCOST_DATA_DIR": loaded["settings"].data_dir.as_posix()}

    def sharing(*args: str) -> Any:
        result = CliRunner().invoke(
            cli, ["sharing", *args, "--organization-id", organization], env=env
        )
        return result

    defaults = {"share_idle": "weighted", "share_namespaces": "kube-system,workers"}
    baseline = loaded["get"]("k8s_costs")
    try:
        stored = sharing(
            "set", "--share-idle", "weighted", "--share-namespaces", "kube-system,workers"
        )
        assert stored.exit_code == 0, stored.output
        assert json.loads(stored.output)["share_namespaces"] == ["kube-system", "workers"]
        refused = sharing("set", "--shared-overhead-hourly", "-1")
        assert refused.exit_code == 1 and "error: shared_overhead_hourly" in refused.output
        body = loaded["get"]("k8s_costs")
        assert body["sharing"]["share_namespaces"] == ["kube-system", "workers"]
        assert_groups_match(body, _truth(loaded, "namespace", defaults), defaults)
        over = loaded["get"]("k8s_costs", share_idle="even")
        assert_groups_match(
            over, _truth(loaded, "namespace", {**defaults, "share_idle": "even"}), {}
        )
        plain = loaded["get"]("k8s_costs", share_idle="none", share_namespaces="")
        assert "sharing" not in plain
        assert {g["key"]: g["cost"] for g in plain["groups"]} == pytest.approx(
            {g["key"]: g["cost"] for g in baseline["groups"]}, rel=1e-12
        )
    finally:
        assert sharing("set", "--reset").exit_code == 0
    assert "sharing" not in loaded["get"]("k8s_costs")
    assert json.loads(sharing("show").output) == SharingPolicy().document()


def test_clean_expenses_shares_over_the_cluster_items(loaded):
    """A cluster item's cost: its groups' shared cost; the overhead adds to the cluster."""
    plain = {i["cloud_account_id"]: i for i in loaded["get"]("clean_expenses")["clean_expenses"]}
    options = {"share_idle": "weighted", "shared_overhead_hourly": 1.0}
    shared = loaded["get"]("clean_expenses", **options)
    items = {item["cloud_account_id"]: item for item in shared["clean_expenses"]}
    for tenant in loaded["tenants"]:
        assert items[tenant]["cost"] == pytest.approx(plain[tenant]["cost"] + 24.0, rel=1e-9)
        assert items[tenant]["shared"]["overhead"] == pytest.approx(24.0)
    web_truth = _truth(loaded, "namespace", options)["web"]
    web = loaded["get"]("clean_expenses", k8s_namespace="web", **options)
    assert web["total_cost"] == pytest.approx(web_truth["cost"], rel=REL)


def test_openapi_documents_every_sharing_parameter_and_field(loaded):
    spec = create_app(loaded["settings"]).test_client().get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for route in ("k8s_costs", "clean_expenses"):
        operation = spec["paths"][f"/restapi/v2/organizations/{{organization_id}}/{route}"]["get"]
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert parameters["share_idle"]["schema"]["enum"] == ["none", "weighted", "even"]
        assert parameters["idle_by"]["schema"]["enum"] == ["cluster", "node"]
        assert parameters["share_split"]["schema"]["enum"] == ["weighted", "even"]
        assert parameters["shared_overhead_hourly"]["schema"]["type"] == "number"
        for name in ("share_namespaces", "share_labels"):
            assert parameters[name]["schema"]["type"] == "string"
        for name in SHARING_OPTIONS:
            assert parameters[name]["description"], name
    assert set(schemas["SharedPartsSchema"]["properties"]) == set(PARTS)
    assert set(schemas["SharingSchema"]["properties"]) == set(SHARING_OPTIONS)
    for schema in ("K8sCostGroupSchema", "K8sCostTotalsSchema", "CleanExpenseSchema"):
        assert "shared" in schemas[schema]["properties"], schema
    for schema in ("K8sCostGroupsSchema", "CleanExpensesSchema"):
        assert "sharing" in schemas[schema]["properties"], schema


def _usage_truth(loaded: dict[str, Any]) -> dict[str, dict]:
    return {
        uid: row
        for tenant in loaded["tenants"]
        for uid, row in expected_usage(loaded["scenario"], tenant, PITFALL_DAY).items()
    }


def test_each_pod_requested_and_used_as_its_usage_profile(loaded):
    """The stored rows' core- and byte-hours, requested and used, against the profile."""
    truth = _usage_truth(loaded)
    rows = [
        row
        for tenant in loaded["tenants"]
        for row in stored_usage(loaded["settings"], tenant, PITFALL_DAY)
    ]
    pods = {row["pod_uid"]: row for row in rows if row["pod_uid"]}
    assert set(pods) == set(truth)
    missing = 0
    for uid, expected in truth.items():
        for column in ("cpu_request_core_hours", "ram_request_byte_hours"):
            assert pods[uid][column] == pytest.approx(expected[column], rel=REL), (uid, column)
        for column in ("cpu_used_core_hours", "ram_used_byte_hours"):
            if expected[column] is None:
                assert pods[uid][column] is None, (uid, column)
                missing += 1
            else:
                assert pods[uid][column] == pytest.approx(expected[column], rel=REL), (uid, column)
    assert missing == 2 * len(loaded["tenants"])  # the trainer pod of each cluster
    assert all(row["cpu_used_core_hours"] is None for row in rows if not row["pod_uid"])


def test_efficiency_per_group_is_used_over_requested_and_null_without_usage(loaded):
    truth = _usage_truth(loaded)
    pods = {
        uid: row
        for tenant, rows in loaded["truth"]
        for row in rows
        for uid in [row["pod"]]
        if uid in truth
    }
    body = loaded["get"]("k8s_costs", group_by="namespace")
    for group in body["groups"]:
        members = [uid for uid, row in pods.items() if row["namespace"] == group["key"]]
        measured = [uid for uid in members if truth[uid]["cpu_used_core_hours"] is not None]
        if not measured:
            assert group["cpu_efficiency"] is None and group["total_efficiency"] is None, group
            continue
        expected = {}
        for r, unit in (("cpu", "core"), ("ram", "byte")):
            used = sum(truth[uid][f"{r}_used_{unit}_hours"] for uid in measured)
            asked = sum(truth[uid][f"{r}_request_{unit}_hours"] for uid in measured)
            expected[r] = used / asked
            assert group[f"{r}_efficiency"] == pytest.approx(expected[r], rel=REL), group["key"]
        weight = group["cpu_cost"] + group["ram_cost"]
        total = (expected["cpu"] * group["cpu_cost"] + expected["ram"] * group["ram_cost"]) / weight
        assert group["total_efficiency"] == pytest.approx(total, rel=REL), group["key"]
    keys = {g["key"]: g for g in body["groups"]}
    assert keys["ml"]["cpu_efficiency"] is None  # the trainer has no cAdvisor series
    assert keys["__idle__"]["ram_efficiency"] is None
    assert keys["web"]["cpu_efficiency"] > 0 and keys["web"]["cpu_efficiency"] != 1


def test_recommendations_follow_the_usage_profiles(loaded):
    """p95 cpu and max memory over 0.7, floored, priced at the nodes' prices; a container
    without usage series has none (null), not 0."""
    body = loaded["get"]("k8s_recommendations")
    got = {
        (r["cloud_account_id"], r["namespace"], r["controller"], r["container"]): r
        for r in body["recommendations"]
    }
    checked = 0
    for tenant in loaded["tenants"]:
        truth = expected_recommendations(loaded["scenario"], tenant, PITFALL_DAY)
        for (namespace, controller, container), expected in truth.items():
            r = got[(tenant, namespace, controller, container)]
            assert r["current"] == pytest.approx(
                {"cpu_cores": expected["cpu_request"], "memory_bytes": expected["ram_request"]}
            )
            assert r["usage"]["cpu_cores"] == pytest.approx(expected["cpu_usage"], rel=REL)
            assert r["usage"]["memory_bytes"] == pytest.approx(expected["ram_usage"], rel=REL)
            assert r["recommended"]["cpu_cores"] == pytest.approx(
                expected["cpu_recommended"], rel=REL
            )
            assert r["recommended"]["memory_bytes"] == pytest.approx(
                expected["ram_recommended"], rel=REL
            )
            assert r["replicas"] == pytest.approx(expected["replicas"], rel=REL)
            assert r["monthly_savings"] == pytest.approx(expected["monthly_savings"], rel=REL)
            assert r["based_on"]["days"] == 1 and r["based_on"]["samples"] > 0
            checked += 1
        trainer = got[(tenant, "ml", "Deployment/trainer", "trainer")]
        assert trainer["recommended"] == {"cpu_cores": None, "memory_bytes": None}
        assert trainer["monthly_savings"] is None and trainer["based_on"]["days_with_usage"] == 0
    assert checked >= 4  # controllers whose every pod ran through the burst
    savings = [r["monthly_savings"] for r in body["recommendations"] if r["monthly_savings"]]
    assert savings == sorted(savings, reverse=True)
    assert body["total_monthly_savings"] == pytest.approx(sum(savings))
    maxed = loaded["get"]("k8s_recommendations", cpu_quantile="max", target_utilization=1)
    web = next(r for r in maxed["recommendations"] if r["container"] == "nginx")
    assert web["recommended"]["cpu_cores"] == pytest.approx(web["usage"]["cpu_cores"])
    only = loaded["get"]("k8s_recommendations", namespace="web", limit=1)
    assert only["total_count"] == 2 * len(loaded["tenants"]) and [
        r["namespace"] for r in only["recommendations"]
    ] == ["web"]
    for bad in ({"cpu_quantile": "p50"}, {"target_utilization": 0}, {"target_utilization": 2}):
        loaded["get"]("k8s_recommendations", status=400, **bad)


def test_k8scost_recommendations_prints_the_top_savings(loaded):
    day = PITFALL_DAY.isoformat()
    result = CliRunner().invoke(
        cli,
        [
            "recommendations",
            "--organization-id",
            loaded["organization"],
            "--start-date",
            day,
            "--end-date",
            day,
            "--limit",
            "3",
        ],
        env={"K8SCOST_DATA_DIR": loaded["settings"].data_dir.as_posix()},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["savings/mo", "cluster", "namespace"]
    assert len(lines) == 5 and lines[-1].endswith("USD/month in all")
    top = loaded["get"]("k8s_recommendations", limit=1)["recommendations"][0]
    assert lines[1].split()[0] == f"{top['monthly_savings']:.2f}"


def test_openapi_documents_the_efficiency_fields_and_the_recommendations(loaded):
    spec = create_app(loaded["settings"]).test_client().get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    group = schemas["K8sCostGroupSchema"]["properties"]
    for name in ("cpu_efficiency", "ram_efficiency", "total_efficiency"):
        assert group[name]["description"], name
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/k8s_recommendations"]
    parameters = {p["name"]: p for p in operation["get"]["parameters"] if p["in"] == "query"}
    assert {"start_date", "end_date", "cloud_account_id", "k8s_namespace", "namespace"} <= set(
        parameters
    )
    assert parameters["cpu_quantile"]["schema"]["enum"] == ["p95", "max"]
    assert parameters["target_utilization"]["schema"]["type"] == "number"
    item = schemas["RecommendationSchema"]["properties"]
    assert {"current", "recommended", "monthly_savings", "based_on"} <= set(item)
