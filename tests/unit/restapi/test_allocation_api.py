"""/allocation/compute answers OpenCost's documented requests with k8s_costs' figures.

One test per example of OpenCost's API documentation (opencost.io/docs/integrations/
api-examples and api): a window, aggregate by namespace, by `namespace,label:app`,
`step=1d`, `accumulate=true`, `shareIdle=true`, filters with `!:`, `~:` and `<~:`.
Each answer is compared with k8s_costs asked the same question through the API, and
the plain namespace answer with sums of the rows written here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from api.query.opencost import FIELDS
from etl.core.days import day_start_epoch
from tests.api_data import (
    Api,
    add_cluster,
    allocation_row,
    assert_problem,
    day,
    write_allocation,
)

OPENCOST_FIELDS = {**FIELDS, "totalCost": "cost"}  # OpenCost's field -> k8s_costs' column
K8S_COSTS = "/restapi/v2/organizations/{org}/k8s_costs"
WINDOW = "2024-03-01T00:00:00Z,2024-03-04T00:00:00Z"  # days 1 to 3


def _row(rid: str, namespace: str, node: str, labels: dict, **costs: float) -> dict[str, Any]:
    namespace_labels = {"app": "ns-default"} if namespace == "data" else {}
    return allocation_row(rid, namespace, node, labels, namespace_labels, **costs)


def rows(n: int) -> list[dict[str, Any]]:
    """Day n's allocation: costs grow with n so that days differ."""
    return [
        _row("web", "shop", "n1", {"app": "web"}, cpu_cost=2.0 * n, ram_cost=1.0),
        _row("api", "shop", "n2", {"app": "api"}, cpu_cost=1.0, ram_cost=0.5 * n),
        _row("db", "data", "n1", {}, cpu_cost=0.75, pv_cost=1.5),  # app from its namespace
        _row("dns", "kube-system", "n1", {}, cpu_cost=0.5, management_cost=0.125),
        _row("prom", "monitoring-a", "n2", {"app": "prom"}, ram_cost=0.25 * n),
        _row("logs", "monitoring-b", "n2", {"app": "logs"}, network_cost=0.375),
        _row("i1", "__idle__", "n1", {}, cpu_cost=3.0, ram_cost=1.0),
        _row("i2", "__idle__", "n2", {}, cpu_cost=1.0 * n, gpu_cost=2.0),
        _row("u", "__unmounted__", "", {}, pv_cost=2.0, load_balancer_cost=0.625),
    ]


@pytest.fixture
def org(settings, db) -> str:
    add_cluster(db, "org-1", "acc-1", [1, 2, 3])
    for n in (1, 2, 3):
        write_allocation(settings, "acc-1", n, rows(n))
    return "org-1"


def allocation(api: Api, query: dict[str, Any], path: str = "/allocation/compute") -> list:
    response = api.get("org-1", query, path=path)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["code"] == 200
    return body["data"]


def k8s_costs(api: Api, start_day: int, end_day: int, **query: Any) -> dict[str, dict]:
    """k8s_costs' groups by key for days start_day..end_day."""
    pairs = [
        ("start_date", day_start_epoch(day(start_day))),
        ("end_date", day_start_epoch(day(end_day))),
    ]
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    response = api.get("org-1", pairs, path=K8S_COSTS)
    assert response.status_code == 200, response.get_json()
    return {group["key"]: group for group in response.get_json()["groups"]}


def assert_same(allocations: dict[str, dict], groups: dict[str, dict]) -> None:
    """Every allocation's fields equal its k8s_costs group's, and no group is missing."""
    assert set(allocations) == set(groups)
    for name, group in groups.items():
        got = allocations[name]
        for field, column in OPENCOST_FIELDS.items():
            assert got[field] == pytest.approx(group[column], rel=1e-12, abs=1e-12), (name, field)
        assert got["sharedCost"] == pytest.approx(sum(group.get("shared", {}).values()))
        parts = [got[field] for field in OPENCOST_FIELDS if field != "totalCost"]
        assert sum(parts) + got["sharedCost"] == pytest.approx(got["totalCost"])


def without_idle(groups: dict[str, dict]) -> dict[str, dict]:
    return {key: group for key, group in groups.items() if key != "__idle__"}


def test_a_window_alone_lists_every_pod_and_leaves_idle_out_as_opencost_does(api, org):
    (only,) = allocation(api, {"window": WINDOW})
    assert_same(only, without_idle(k8s_costs(api, 1, 3, group_by="pod")))
    assert only["shop/pod-web"]["properties"] == {"pod": "shop/pod-web"}
    assert only["shop/pod-web"]["start"] == "2024-03-01T00:00:00Z"
    assert only["shop/pod-web"]["end"] == "2024-03-04T00:00:00Z"
    assert only["shop/pod-web"]["minutes"] == 3 * 24 * 60


def test_aggregate_by_namespace_with_idle_equals_k8s_costs_and_the_rows(api, org):
    (by_namespace,) = allocation(
        api, {"window": WINDOW, "aggregate": "namespace", "includeIdle": "true"}, "/allocation"
    )
    assert_same(by_namespace, k8s_costs(api, 1, 3, group_by="namespace"))
    written: dict[str, float] = defaultdict(float)
    for n in (1, 2, 3):
        for row in rows(n):
            written[row["namespace"]] += sum(v for k, v in row.items() if k.endswith("_cost"))
    assert {name: a["totalCost"] for name, a in by_namespace.items()} == pytest.approx(written)
    assert {"__idle__", "__unmounted__"} <= set(by_namespace)
    assert by_namespace["shop"]["properties"] == {"namespace": "shop"}


def test_aggregate_by_namespace_and_label_app_is_two_level(api, org):
    (two_level,) = allocation(api, {"window": WINDOW, "aggregate": "namespace,label:app"})
    expected = {}
    for namespace in (
        "shop",
        "data",
        "kube-system",
        "monitoring-a",
        "monitoring-b",
        "__unmounted__",
    ):
        for key, group in k8s_costs(api, 1, 3, group_by="label:app", namespace=namespace).items():
            expected[key if key == namespace else f"{namespace}/{key}"] = group
    assert_same(two_level, expected)
    assert "data/ns-default" in two_level  # the namespace's label when the pod has none
    assert "kube-system/__unallocated__" in two_level
    assert two_level["shop/web"]["properties"] == {"namespace": "shop", "labels": {"app": "web"}}


def test_step_one_day_gives_one_set_per_day(api, org):
    sets = allocation(api, {"window": WINDOW, "aggregate": "namespace", "step": "1d"})
    assert len(sets) == 3
    for n, one_day in enumerate(sets, start=1):
        assert_same(one_day, without_idle(k8s_costs(api, n, n, group_by="namespace")))
        assert one_day["shop"]["start"] == f"2024-03-0{n}T00:00:00Z"


def test_accumulate_true_sums_the_steps_into_one_set(api, org):
    sets = allocation(
        api, {"window": WINDOW, "aggregate": "namespace", "step": "1d", "accumulate": "true"}
    )
    assert len(sets) == 1
    assert_same(sets[0], without_idle(k8s_costs(api, 1, 3, group_by="namespace")))


@pytest.mark.parametrize("idle_by_node", ["false", "true"])
def test_share_idle_spreads_idle_like_k8s_costs_weighted(api, org, idle_by_node):
    query = {"window": WINDOW, "aggregate": "namespace", "shareIdle": "true"}
    (shared,) = allocation(api, {**query, "idleByNode": idle_by_node, "includeIdle": "true"})
    idle_by = "node" if idle_by_node == "true" else "cluster"
    groups = k8s_costs(api, 1, 3, group_by="namespace", share_idle="weighted", idle_by=idle_by)
    assert_same(shared, groups)
    assert shared["shop"]["sharedCost"] > 0
    plain = k8s_costs(api, 1, 3, group_by="namespace")
    assert sum(a["totalCost"] for a in shared.values()) == pytest.approx(
        sum(g["cost"] for g in plain.values())
    )


def test_filter_with_negation_leaves_the_namespaces_out(api, org):
    query = {"window": WINDOW, "aggregate": "namespace", "includeIdle": "true"}
    (kept,) = allocation(api, {**query, "filter": 'namespace!:"kube-system","data"'})
    groups = k8s_costs(api, 1, 3, group_by="namespace")
    assert_same(kept, {k: g for k, g in groups.items() if k not in ("kube-system", "data")})


@pytest.mark.parametrize(
    ("wanted", "kept"),
    [
        ('namespace<~:"monitoring"', ("monitoring-a", "monitoring-b")),
        ('namespace~:"nitor"', ("monitoring-a", "monitoring-b")),
        ('namespace~>:"-b"', ("monitoring-b",)),
        ('namespace!<~:"monitoring"+namespace!:"__unmounted__"', ("shop", "data", "kube-system")),
        ('namespace:"shop" | namespace:"data"', ("shop", "data")),
    ],
)
def test_filter_by_prefix_contains_suffix_and_or(api, org, wanted, kept):
    (answer,) = allocation(api, {"window": WINDOW, "aggregate": "namespace", "filter": wanted})
    groups = k8s_costs(api, 1, 3, group_by="namespace")
    assert_same(answer, {k: groups[k] for k in kept})


def test_a_label_filter_outside_the_aggregate_equals_k8s_costs_label_filters(api, org):
    wanted = 'label[app]:"web","prom"'
    (answer,) = allocation(api, {"window": WINDOW, "aggregate": "namespace", "filter": wanted})
    web = k8s_costs(api, 1, 3, group_by="namespace", label="app:web")
    prom = k8s_costs(api, 1, 3, group_by="namespace", label="app:prom")
    assert set(web).isdisjoint(prom)
    assert_same(answer, {**web, **prom})
    (none,) = allocation(api, {"window": WINDOW, "filter": 'label[app]:"no-such"'})
    assert none == {}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (
            {"window": WINDOW, "resolution": "1m", "shareNamespaces": "kube-system"},
            "shareNamespaces",
        ),
        (
            {"window": WINDOW, "includeProportionalAssetResourceCosts": "true"},
            "includeProportional",
        ),
        ({"window": WINDOW, "aggregate": "annotation:owner"}, "aggregate"),
        ({"window": WINDOW, "filter": 'container:"x"'}, "filter"),
        ({"window": WINDOW, "filter": 'namespace:"a" + namespace:"b" | namespace:"c"'}, "filter"),
        ({"window": WINDOW, "filter": 'namespace:"a'}, "filter"),
        ({"window": "30m"}, "window"),
        ({"window": "2024-03-01T06:00:00Z,2024-03-02T00:00:00Z"}, "window"),
        ({"window": WINDOW, "step": "1h"}, "step"),
        ({"window": WINDOW, "accumulate": "week"}, "accumulate"),
        ({"aggregate": "namespace"}, "window"),
    ],
)
def test_what_we_do_not_answer_is_a_400_naming_the_parameter(api, org, query, named):
    body = assert_problem(api.get("org-1", query, path="/allocation/compute"), 400)
    assert any(field.startswith(named) for field in body.get("errors", {})), body
    assert named in body["detail"]


def test_the_allocation_api_needs_a_token(api, org):
    response = api.client.get("/allocation/compute", query_string={"window": WINDOW})
    assert_problem(response, 401)
