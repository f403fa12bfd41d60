"""Shared costs end to end: every sharing option against tests/truth_sharing.py.

One history, loaded once for the module: two clusters over one day at a 5 min scrape,
one rendered as OpenCost's own emitters send (`opencost`), one with a real
kube-state-metrics v2 (`ksm2`): both exporter shapes of docs/exporters.md that change
the allocation's join. Every combination of options is then one query of the same
stored allocation, compared with the truth within 0.01%, and its groups must add up
to the clusters' cost plus the overhead.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from api.app import create_app
from etl.core.sharing import SharingPolicy
from k8scost.cli import cli
from tests.truth import COST_KEYS
from tests.truth_sharing import PARTS, expected_shared_groups

pytestmark = pytest.mark.e2e

REL, ABS = 1e-4, 1e-6
SHARING_OPTIONS = tuple(SharingPolicy().document())
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


@pytest.mark.parametrize("options", [{}, {"share_idle": "weighted", "shared_overhead_hourly": 1.0}])
def test_clean_expenses_pages_the_same_with_sharing_on(loaded, options):
    """limit/offset pages are disjoint and add up to the unpaged answer, in its order
    (with sharing, page 2 once repeated page 1: its path ignored offset)."""
    whole = loaded["get"]("clean_expenses", **options)
    keys = [(i["cloud_account_id"], i["resource_id"]) for i in whole["clean_expenses"]]
    assert len(keys) >= 2
    pages = [
        loaded["get"]("clean_expenses", limit=1, offset=n, **options) for n in range(len(keys))
    ]
    paged = [(i["cloud_account_id"], i["resource_id"]) for p in pages for i in p["clean_expenses"]]
    assert paged == keys
    assert {p["total_count"] for p in pages} == {whole["total_count"]}
    assert [p.get("offset", 0) for p in pages] == list(range(len(keys)))
