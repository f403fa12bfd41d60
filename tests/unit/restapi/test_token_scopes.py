"""Scoped tokens over every endpoint of /openapi.json, and roles on every write.

Viewer tokens scoped to a cluster, a namespace and a label ask every GET endpoint; each
answer must equal the organization-wide token's answer to the same request with the
scope written as filters (so totals, previous_total and counts are the scope's), and a
filter outside the scope must give an empty answer. The matrix fails for an endpoint
it does not know, so a new endpoint must say how its scope applies.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api import auth
from api.query.tokenscope import TokenScope
from api.reportdefs import definition
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import budgets as budget_store
from etl.storage import registry
from etl.storage import reports as reports_store
from etl.storage.clickhouse import connect
from tests import api_data as data
from tests.api_data import Api, assert_problem, day

ORG = "org-1"
PREFIX = "/restapi/v2/organizations/{org}"
START, END = day_start_epoch(day(1)), day_start_epoch(day(3)) - 1  # days 1 and 2
WINDOW = f"{day_start_epoch(day(1))},{day_start_epoch(day(3))}"
SCOPES = {
    "cluster": ["cluster:acc-1"],
    "namespace": ["namespace:shop"],
    "label": ["label:team=a"],
}
# The scope written as the filters of each endpoint family (what the answer must equal).
AS_FILTERS = {
    "cluster": {"cloud_account_id": "acc-1"},
    "namespace": {"k8s_namespace": "shop"},
    "label": {"k8s_label": "team:a"},
}
AS_OPENCOST_FILTER = {
    "cluster": 'cluster:"acc-1"',
    "namespace": 'namespace:"shop"',
    "label": 'label[team]:"a"',
}


def _pod(rid: str, namespace: str, node: str, labels: dict, **costs: float) -> dict[str, Any]:
    namespace_labels = {"team": "b"} if namespace == "data" else {}
    return data.allocation_row(rid, namespace, node, labels, namespace_labels, **costs)


ROWS = {
    "acc-1": [
        _pod("a1", "shop", "n1", {"team": "a"}, cpu_cost=2.0, ram_cost=1.0),
        _pod("a2", "shop", "n1", {"team": "c"}, cpu_cost=0.5),
        _pod("a3", "data", "n1", {}, cpu_cost=1.25, pv_cost=0.25),  # team b by namespace
        _pod("a4", "kube-system", "n1", {}, cpu_cost=0.75),
        _pod("a5", "__idle__", "n1", {}, cpu_cost=3.0),
    ],
    "acc-2": [
        _pod("b1", "shop", "m1", {"team": "a"}, ram_cost=4.0),
        _pod("b2", "data", "m1", {"team": "a"}, cpu_cost=8.0),
        _pod("b3", "__idle__", "m1", {}, cpu_cost=0.5),
    ],
}


@pytest.fixture(scope="module")
def world_template(
    tmp_path_factory: pytest.TempPathFactory, with_schema: Callable[[Settings], Settings]
) -> tuple[Path, dict[str, Any]]:
    """The world written once for the module: its closed data directory, and what
    `world` returns.

    Why: every test here asks about the same world, and writing it (a few dozen
    restatements and documents) was most of each test's cost; a copy of the closed
    directory is the same stores. Each test gets its own copy, so the writes the
    role tests make (budgets, reports) stay their own."""
    settings = with_schema(
        Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path_factory.mktemp("world") / "data")})
    )
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    with connect(settings.clickhouse_dsn):  # one engine for every write, closed after
        written = write_world(settings, db)
    return settings.data_dir, written


@pytest.fixture
def settings(tmp_path: Path, world_template: tuple[Path, dict[str, Any]]) -> Iterator[Settings]:
    """Stores under tmp_path holding a copy of the module's world, the embedded engine
    kept running for the test (as restapi/conftest.py's `settings` does)."""
    source, _ = world_template
    shutil.copytree(source, tmp_path / "data", symlinks=True)
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")})
    with connect(settings.clickhouse_dsn):
        yield settings


@pytest.fixture
def world(settings: Settings, world_template: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    """The module's world, in this test's copy of the stores."""
    return world_template[1]


def write_world(settings: Settings, db: Any) -> dict[str, Any]:
    """Two clusters with allocation, breakdown and expenses on days 1-2, a bill VM,
    budgets of every scope kind and alerts about each part."""
    data.add_cloud_account(db, ORG, "aws-1")
    data.add_resource(db, ORG, "aws-1", "vm-1", last_seen=day_start_epoch(day(3)) - 1)
    clusters = {}
    for account, rows in ROWS.items():
        clusters[account] = data.add_cluster(db, ORG, account, [1, 2])
        for n in (1, 2):
            scaled = [{**row, "cpu_cost": row.get("cpu_cost", 0.0) * n} for row in rows]
            data.write_allocation(settings, account, n, scaled)
            parts = {
                c: sum(r.get(c, 0.0) for r in scaled) for c in ("cpu_cost", "ram_cost", "pv_cost")
            }
            data.write_breakdown(settings, account, clusters[account], n, parts)
            data.write_cost(settings, account, clusters[account], n, sum(parts.values()))
    for n in (1, 2):
        data.write_cost(settings, "aws-1", "vm-1", n, 10.0 * n)
    budgets = {
        scope: budget_store.add_budget(db, ORG, f"b-{scope}", scope, 100.0, None)["_id"]
        for scope in ("organization", "cloud_account_id:acc-1", "namespace:shop", "label:team=a")
    }
    for scopes in ([], ["cluster:acc-1"], ["namespace:shop"], ["label:team=a"]):
        fields = definition("r", scopes, "namespace", "monthly", {}, "csv", "file:///tmp/r/")
        reports_store.add_report(db, ORG, fields)
    alerts = [
        ("cluster-acc-1", {"cloud_account_id": "acc-1", "scope": "cluster", "namespace": None}),
        ("shop-acc-1", {"cloud_account_id": "acc-1", "scope": "namespace", "namespace": "shop"}),
        ("data-acc-2", {"cloud_account_id": "acc-2", "scope": "namespace", "namespace": "data"}),
        *(
            (f"budget-{scope}", {"kind": "budget", "budget_id": budget, "scope": scope})
            for scope, budget in budgets.items()
        ),
    ]
    for alert_id, fields in alerts:
        db.k8s_alerts.insert_one(
            {
                "_id": alert_id,
                "kind": "anomaly",
                "organization_id": ORG,
                "day": day(1).isoformat(),
                "date": day_start_epoch(day(1)),
                "state": "open",
                "cost_usd": 1.0,
                "baseline_usd": 0.5,
                "change_usd": 0.5,
                "summary": [],
                "causes": {},
                **fields,
            }
        )
    return {"clusters": clusters, "budgets": budgets}


def token(db: Any, scopes: list[str], role: str = "viewer") -> dict[str, str]:
    plain = auth.issue_token(db, ORG, TokenScope.parse(scopes, role))
    return {"Authorization": f"Bearer {plain}"}


def ask(api: Api, headers: dict[str, str], path: str, query: Any = None) -> Any:
    response = api.client.get(path.format(org=ORG), query_string=query or {}, headers=headers)
    assert response.status_code == 200, (path, response.get_json())
    return response.get_json() if response.is_json else response.get_data(as_text=True)


def approx(value: Any) -> Any:
    """The value with its floats compared approximately (sums may add in another order)."""
    if isinstance(value, dict):
        return {key: approx(item) for key, item in value.items()}
    if isinstance(value, list):
        return [approx(item) for item in value]
    return pytest.approx(value, rel=1e-12, abs=1e-12) if isinstance(value, float) else value


def _pairs(base: dict[str, Any], extra: dict[str, Any]) -> list[tuple[str, Any]]:
    return [*base.items(), *extra.items()]


PERIOD = {"start_date": START, "end_date": END}


def _clean_expenses(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/clean_expenses"
    body = ask(api, scoped, path, PERIOD)
    assert body == approx(ask(api, whole, path, _pairs(PERIOD, AS_FILTERS[kind])))
    if kind != "cluster":  # K8s cost only: no bill line
        assert all(item["cloud_account_id"] != "aws-1" for item in body["clean_expenses"])
    csv = ask(api, scoped, path, {**PERIOD, "format": "csv"})
    assert csv == ask(api, whole, path, _pairs({**PERIOD, "format": "csv"}, AS_FILTERS[kind]))
    assert "vm-1" not in csv


def _bills(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    """A cluster scope sees its cluster's account, as the filter; a namespace or label scope
    no bill (a cluster's allocation is no bill's) and no folded node."""
    path = PREFIX + "/bills"
    body = ask(api, scoped, path, PERIOD)
    if kind == "cluster":
        assert body == approx(ask(api, whole, path, _pairs(PERIOD, AS_FILTERS[kind])))
        assert all(bill["cloud_account_id"] == "acc-1" for bill in body["bills"])
    else:
        assert (body["bills"], body["clusters"]) == ([], [])
    assert "vm-1" not in str(body)


def _each(path: str, name: str, values: tuple[str, ...], nonempty: str):
    """An endpoint asked once per value of `name`: each scoped answer is the whole one with
    the scope as filters, and holds something (`nonempty`)."""

    def check(api: Api, scoped: dict, whole: dict, kind: str) -> None:
        for value in values:
            query = {**PERIOD, name: value}
            body = ask(api, scoped, PREFIX + path, query)
            assert body == approx(ask(api, whole, PREFIX + path, _pairs(query, AS_FILTERS[kind])))
            assert body[nonempty]

    return check


_breakdown = _each(
    "/breakdown_expenses",
    "breakdown_by",
    ("cloud_account_id", "service_name", "k8s_component"),
    "total",
)
_k8s_costs = _each("/k8s_costs", "group_by", ("namespace", "cluster", "label:team"), "groups")


def _allocation(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    for path in ("/allocation", "/allocation/compute"):
        query = {"window": WINDOW, "aggregate": "namespace", "step": "1d"}
        got = ask(api, scoped, path, query)
        expected = ask(api, whole, path, {**query, "filter": AS_OPENCOST_FILTER[kind]})
        assert got == approx(expected) and got["data"][0]


def _recommendations(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/k8s_recommendations"
    body = ask(api, scoped, path, PERIOD)
    if kind == "label":  # container usage has no labels: a label scope sees none
        assert body["recommendations"] == [] and body["total_count"] == 0
        return
    assert body == approx(ask(api, whole, path, _pairs(PERIOD, AS_FILTERS[kind])))


VISIBLE_ALERTS = {
    "cluster": {"cluster-acc-1", "shop-acc-1", "budget-cloud_account_id:acc-1"},
    "namespace": {"shop-acc-1", "budget-namespace:shop"},
    "label": {"budget-label:team=a"},
}
VISIBLE_BUDGETS = {
    "cluster": {"cloud_account_id:acc-1"},
    "namespace": {"namespace:shop"},
    "label": {"label:team=a"},
}


def _alerts(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/k8s_alerts"
    query = {"start_date": START, "end_date": END}
    body = ask(api, scoped, path, query)
    every = {alert["id"]: alert for alert in ask(api, whole, path, query)["k8s_alerts"]}
    assert {alert["id"] for alert in body["k8s_alerts"]} == VISIBLE_ALERTS[kind]
    assert body["total_count"] == len(VISIBLE_ALERTS[kind])
    assert all(alert == every[alert["id"]] for alert in body["k8s_alerts"])


def _budgets(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/budgets"
    body = ask(api, scoped, path)
    every = {b["id"]: b for b in ask(api, whole, path)["budgets"]}
    assert {b["scope"] for b in body["budgets"]} == VISIBLE_BUDGETS[kind]
    assert body["total_count"] == len(VISIBLE_BUDGETS[kind])
    assert all(budget == every[budget["id"]] for budget in body["budgets"])


def _one_budget(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/budgets/{id}"
    for budget in ask(api, whole, PREFIX + "/budgets")["budgets"]:
        url = path.format(org=ORG, id=budget["id"])
        response = api.client.get(url, headers=scoped)
        if budget["scope"] in VISIBLE_BUDGETS[kind]:
            assert response.get_json() == budget
        else:  # as if it did not exist
            assert_problem(response, 404)


def _showback_reports(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/showback_reports"
    body = ask(api, scoped, path)
    every = {r["id"]: r for r in ask(api, whole, path)["showback_reports"]}
    assert [r["scopes"] for r in body["showback_reports"]] == [SCOPES[kind]]
    assert all(report == every[report["id"]] for report in body["showback_reports"])


def _ingest_status(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/ingest_status"
    seen = {c["cloud_account_id"] for c in ask(api, scoped, path)["ingest_status"]}
    assert seen == ({"acc-1"} if kind == "cluster" else {"acc-1", "acc-2"})


def _import_status(api: Api, scoped: dict, whole: dict, kind: str) -> None:
    path = PREFIX + "/k8s_import_status"
    body = ask(api, scoped, path, PERIOD)
    if kind == "cluster":
        assert body == approx(ask(api, whole, path, _pairs(PERIOD, AS_FILTERS[kind])))
        return
    expected = ask(api, whole, path, PERIOD)
    expected["k8s_import_status"] = [
        {**item, "cost": None, "k8s_costs": None} for item in expected["k8s_import_status"]
    ]
    assert body == approx(expected)


MATRIX = {
    "/restapi/v2/organizations/{organization_id}/clean_expenses": _clean_expenses,
    "/restapi/v2/organizations/{organization_id}/breakdown_expenses": _breakdown,
    "/restapi/v2/organizations/{organization_id}/k8s_costs": _k8s_costs,
    "/allocation": _allocation,
    "/allocation/compute": _allocation,
    "/restapi/v2/organizations/{organization_id}/k8s_recommendations": _recommendations,
    "/restapi/v2/organizations/{organization_id}/k8s_alerts": _alerts,
    "/restapi/v2/organizations/{organization_id}/budgets": _budgets,
    "/restapi/v2/organizations/{organization_id}/budgets/{budget_id}": _one_budget,
    "/restapi/v2/organizations/{organization_id}/ingest_status": _ingest_status,
    "/restapi/v2/organizations/{organization_id}/showback_reports": _showback_reports,
    "/restapi/v2/organizations/{organization_id}/k8s_import_status": _import_status,
    "/restapi/v2/organizations/{organization_id}/bills": _bills,
}
NO_DATA = {"/livez", "/readyz", "/openapi.json", "/docs", "/", "/ui/"}


@pytest.mark.parametrize("kind", list(SCOPES))
def test_every_endpoint_answers_within_a_viewer_scope(api, db, world, kind):
    whole = api.headers(ORG)
    scoped = token(db, SCOPES[kind])
    spec = api.client.get("/openapi.json").get_json()
    readable = {path for path, operations in spec["paths"].items() if "get" in operations}
    assert readable - NO_DATA - {p for p in readable if p.startswith("/ui/")} == set(MATRIX)
    for check in dict.fromkeys(MATRIX.values()):
        check(api, scoped, whole, kind)


def test_a_filter_outside_the_scope_is_an_empty_answer_and_another_org_a_403(api, db, world):
    cluster, namespace, label = (token(db, SCOPES[k]) for k in ("cluster", "namespace", "label"))
    path = PREFIX + "/clean_expenses"
    outside = ask(api, cluster, path, {**PERIOD, "cloud_account_id": "acc-2"})
    assert (outside["total_count"], outside["total_cost"]) == (0, 0)
    assert ask(api, namespace, path, {**PERIOD, "k8s_namespace": "data"})["total_count"] == 0
    costs = ask(api, label, PREFIX + "/k8s_costs", {**PERIOD, "k8s_label": "team:b"})
    assert (costs["total_count"], costs["groups"]) == (0, [])
    breakdown = ask(
        api,
        namespace,
        PREFIX + "/breakdown_expenses",
        {**PERIOD, "breakdown_by": "cloud_account_id", "k8s_namespace": "data"},
    )
    assert (breakdown["total"], breakdown["previous_total"], breakdown["counts"]) == (0, 0, {})
    opencost = ask(api, namespace, "/allocation", {"window": WINDOW, "filter": 'namespace:"data"'})
    assert opencost["data"] == [{}]
    other = api.client.get(
        PREFIX.format(org="org-2") + "/k8s_costs", query_string=PERIOD, headers=namespace
    )
    assert_problem(other, 403)


def _budget_body(scope: str) -> dict[str, Any]:
    return {"name": "team", "scope": scope, "amount_usd": 50.0}


@pytest.mark.parametrize(
    ("role", "scopes", "budget_scope", "status"),
    [
        ("viewer", [], "organization", 403),
        ("viewer", ["namespace:shop"], "namespace:shop", 403),
        ("editor", ["namespace:shop"], "namespace:shop", 201),
        ("editor", ["namespace:shop"], "namespace:data", 403),
        ("editor", ["namespace:shop"], "organization", 403),
        ("editor", ["cluster:acc-1"], "cloud_account_id:acc-1", 201),
        ("editor", ["cluster:acc-1"], "cloud_account_id:acc-2", 403),
        ("editor", [], "organization", 201),
        ("admin", ["label:team=a"], "label:team=a", 201),
        ("admin", [], "namespace:data", 201),
    ],
)
def test_a_budget_write_gets_its_role_and_scope_status_and_a_refusal_writes_nothing(
    api, db, world, role, scopes, budget_scope, status
):
    headers = token(db, scopes, role)
    before = budget_store.list_budgets(db, ORG)
    response = api.client.post(
        PREFIX.format(org=ORG) + "/budgets", json=_budget_body(budget_scope), headers=headers
    )
    assert response.status_code == status, response.get_json()
    after = budget_store.list_budgets(db, ORG)
    if status == 201:
        assert len(after) == len(before) + 1
        return
    body = assert_problem(response, 403)
    assert after == before
    if role == "viewer":
        assert "editor" in body["detail"] and body["errors"] == {"role": ["needs editor"]}
    else:
        assert "outside the token's scope" in body["detail"]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_changing_a_budget_needs_an_editor_whose_scope_covers_it(api, db, world, method):
    shop, data = world["budgets"]["namespace:shop"], world["budgets"]["organization"]
    viewer = token(db, ["namespace:shop"], "viewer")
    editor = token(db, ["namespace:shop"], "editor")
    before = budget_store.list_budgets(db, ORG)
    send = getattr(api.client, method)
    path = PREFIX.format(org=ORG) + "/budgets/{}"
    body = {"json": {"amount_usd": 75.0}} if method == "put" else {}
    assert_problem(send(path.format(shop), headers=viewer, **body), 403)
    assert_problem(send(path.format(data), headers=editor, **body), 404)  # not in its scope
    if method == "put":
        moved = send(path.format(shop), headers=editor, json={"scope": "namespace:data"})
        assert_problem(moved, 403)
    assert budget_store.list_budgets(db, ORG) == before
    done = send(path.format(shop), headers=editor, **body)
    assert done.status_code == (200 if method == "put" else 204)


@pytest.mark.parametrize(
    ("scopes", "filters"),
    [
        (["namespace:shop", "namespace:data"], {"k8s_namespace": ["shop", "data"]}),
        (
            ["cluster:acc-1", "namespace:shop"],
            {"cloud_account_id": "acc-1", "k8s_namespace": "shop"},
        ),
        (["cluster:acc-1", "cluster:acc-2", "label:team=a"], {"k8s_label": "team:a"}),
    ],
)
def test_scopes_of_one_kind_are_a_union_and_kinds_an_intersection(api, db, world, scopes, filters):
    scoped, whole = token(db, scopes), api.headers(ORG)
    path = PREFIX + "/k8s_costs"
    query = {**PERIOD, "group_by": "namespace"}
    expected = [
        *query.items(),
        *((k, v) for k, vs in filters.items() for v in ([vs] if isinstance(vs, str) else vs)),
    ]
    assert ask(api, scoped, path, query) == approx(ask(api, whole, path, expected))


def test_a_union_of_labels_adds_up_the_labels(api, db, world):
    scoped, whole = token(db, ["label:team=a", "label:team=b"]), api.headers(ORG)
    path = PREFIX + "/k8s_costs"
    query = {**PERIOD, "group_by": "label:team"}
    got = {g["key"]: g["cost"] for g in ask(api, scoped, path, query)["groups"]}
    expected: dict[str, float] = {}
    for team in ("a", "b"):
        for group in ask(api, whole, path, {**query, "k8s_label": f"team:{team}"})["groups"]:
            expected[group["key"]] = expected.get(group["key"], 0.0) + group["cost"]
    assert set(got) == {"a", "b"} and got == approx(expected)


@pytest.mark.parametrize(
    ("role", "scopes", "report_scopes", "status"),
    [
        ("editor", [], [], 403),  # reports are an admin's
        ("admin", ["namespace:shop"], ["namespace:shop"], 201),
        ("admin", ["namespace:shop"], ["namespace:data"], 403),
        ("admin", ["namespace:shop"], [], 403),  # the whole organization is wider
        ("admin", ["cluster:acc-1"], ["cluster:acc-1", "label:team=a"], 201),
        ("admin", [], ["label:team=b"], 201),
    ],
)
def test_adding_a_report_needs_an_admin_within_its_scope(
    api, db, world, role, scopes, report_scopes, status
):
    body = {
        "name": "team",
        "scopes": report_scopes,
        "period": "weekly",
        "destination": "file:///tmp/x/",
    }
    before = reports_store.list_reports(db, ORG)
    response = api.client.post(
        PREFIX.format(org=ORG) + "/showback_reports", json=body, headers=token(db, scopes, role)
    )
    assert response.status_code == status, response.get_json()
    after = reports_store.list_reports(db, ORG)
    assert len(after) == len(before) + (status == 201)
    if status == 403:
        needed = "admin" if role != "admin" else "outside the token's"
        assert needed in assert_problem(response, 403)["detail"]


def test_removing_a_report_needs_an_admin_that_sees_it(api, db, world):
    reports = {tuple(r["scopes"]): r["_id"] for r in reports_store.list_reports(db, ORG)}
    path = PREFIX.format(org=ORG) + "/showback_reports/{}"
    shop = reports[("namespace:shop",)]
    assert_problem(
        api.client.delete(path.format(shop), headers=token(db, ["namespace:shop"], "editor")), 403
    )
    assert_problem(
        api.client.delete(path.format(reports[()]), headers=token(db, ["namespace:shop"])), 403
    )
    admin = token(db, ["namespace:shop"], "admin")
    assert_problem(api.client.delete(path.format(reports[()]), headers=admin), 404)  # not its own
    assert len(reports_store.list_reports(db, ORG)) == 4
    assert api.client.delete(path.format(shop), headers=admin).status_code == 204
    assert reports_store.get_report(db, ORG, shop) is None
