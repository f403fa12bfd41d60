"""Budgets on a fixture month: month-to-date and forecast against hand-computed figures,
thresholds crossing once each, the namespace and label scopes, and the budgets API."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from api import auth
from api.app import create_app
from etl.alerts import budgets, run
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.storage import alerting, registry, warehouse
from etl.storage import budgets as store
from etl.storage.clickhouse import connect

ORG = "org-b"
JUNE = [date(2026, 6, d) for d in range(1, 31)]
MAY_END = [date(2026, 5, d) for d in range(28, 32)]


def _allocation(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """k8s_allocation rows of (namespace, labels, cost), all of it cpu."""
    return pd.DataFrame(
        [
            {
                "namespace": r["namespace"],
                "controller_kind": "Deployment",
                "controller": r["namespace"],
                "pod": f"pod-{i}",
                "resource_id": f"r{i}",
                "pod_uid": f"uid-{i}",
                "node": "n1",
                "labels": r.get("labels", {}),
                "namespace_labels": r.get("namespace_labels", {}),
                "services": [],
                "price_flag": "",
                "running_hours": 24.0,
                "cpu_core_hours": 0.0,
                "ram_gib_hours": 0.0,
                "gpu_hours": 0.0,
                **dict.fromkeys(COMPONENTS, 0.0),
                "cpu_cost": r["cost"],
                "cost": r["cost"],
            }
            for i, r in enumerate(rows)
        ]
    )


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A cluster spending $d on June d ($20 a day at the end of May), of which $1 a day is
    namespace `web` (label team=shop) up to June 10, and a cloud account spending $5 a day."""
    root = tmp_path_factory.mktemp("budgets")
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(root)})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.add_account(db, ORG, "cluster", "k8s-1")
    db.cloud_accounts.insert_one(
        {"_id": "aws-1", "organization_id": ORG, "type": "aws_cnr", "name": "aws", "deleted_at": 0}
    )
    registry.add_account(db, "org-other", "theirs", "k8s-9")
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        for day in MAY_END + JUNE[:20]:  # the tests look no further than June 20
            cluster = 20.0 if day.month == 5 else float(day.day)
            costs = {"k8s-1": cluster, "aws-1": 5.0}
            for account, cost in costs.items():
                frame = pd.DataFrame([{"resource_id": f"{account}-r", "cost": cost}])
                warehouse.restate_day(client, "expenses", account, day, frame)
            if day > JUNE[9]:
                continue  # the namespace and label budgets are looked at after June 10
            rows = [
                {"namespace": "web", "labels": {"team": "shop"}, "cost": 1.0},
                {"namespace": "api", "namespace_labels": {"team": "shop"}, "cost": 0.5},
                {"namespace": "data", "cost": cluster - 1.5},
            ]
            warehouse.restate_day(client, "k8s_allocation", "k8s-1", day, _allocation(rows))
    return settings, db


def _budget(db, scope="organization", amount=300.0):
    return store.add_budget(db, ORG, f"b-{scope}", scope, amount)


def test_month_to_date_and_forecast_match_the_hand_computed_figures(month):
    settings, db = month
    budget = _budget(db)
    with connect(settings.clickhouse_dsn) as client:
        reader = budgets.SpendReader(client, db)
        june10 = budgets.budget_month(reader, budget, date(2026, 6, 10))
        june3 = budgets.budget_month(reader, budget, date(2026, 6, 3))
    # June 10: (1 + ... + 10) + 10 x 5; the 7 days June 4-10: (4 + ... + 10) + 7 x 5.
    assert june10.month_to_date_usd == pytest.approx(105.0, rel=1e-12)
    assert june10.trend_daily_usd == pytest.approx(84 / 7, rel=1e-12)
    assert june10.days_left == 20
    assert june10.forecast_usd == pytest.approx(105 + 20 * 12, rel=1e-12)
    assert [(t["crossed"], t["forecast"]) for t in june10.thresholds] == [(False, True)] * 3
    assert june10.by_account == pytest.approx({"k8s-1": 55.0, "aws-1": 50.0})
    # June 3: the 7 days reach back into May (May 28-31 at $20).
    assert june3.month_to_date_usd == pytest.approx(6 + 15, rel=1e-12)
    assert june3.forecast_usd == pytest.approx(21 + 27 * (4 * 20 + 6 + 7 * 5) / 7, rel=1e-12)


@pytest.mark.parametrize(
    ("scope", "june10_mtd"),
    [
        ("cloud_account_id:aws-1", 50.0),
        ("namespace:web", 10.0),
        ("label:team=shop", 15.0),  # web's pod label and api's namespace label
    ],
)
def test_the_scopes_read_their_own_spend(month, scope, june10_mtd):
    settings, db = month
    with connect(settings.clickhouse_dsn) as client:
        reader = budgets.SpendReader(client, db)
        figures = budgets.budget_month(reader, _budget(db, scope), date(2026, 6, 10))
    assert figures.month_to_date_usd == pytest.approx(june10_mtd, rel=1e-12)


def test_each_threshold_is_crossed_once_on_the_hand_computed_day(month):
    settings, db = month
    budget = _budget(db, amount=300.0)
    raised: dict[str, list[str]] = {}
    with connect(settings.clickhouse_dsn) as client:
        for day in JUNE[11:14] + JUNE[16:20]:  # around each crossing, and after it
            before = {a["_id"] for a in alerting.find_alerts(db, ORG, 0, 2**31)}
            run.evaluate_budgets(client, db, ORG, day, now=0)
            after = {a["_id"] for a in alerting.find_alerts(db, ORG, 0, 2**31)}
            raised[day.isoformat()] = sorted(after - before)
    # MTD(n) = n(n+1)/2 + 5n: 156 >= 150 on the 13th, 261 >= 240 on the 18th, 310 >= 300 on
    # the 20th (138, 238 and 285 the day before).
    prefix = f"budget:{budget['_id']}:2026-06"
    mine = {day: [i for i in ids if i.startswith(prefix)] for day, ids in raised.items()}
    assert {day: ids for day, ids in mine.items() if ids} == {
        "2026-06-13": [f"{prefix}:50"],
        "2026-06-18": [f"{prefix}:80"],
        "2026-06-20": [f"{prefix}:100"],
    }
    alert = alerting.get_alert(db, f"{prefix}:80")
    assert alert["cost_usd"] == pytest.approx(261.0)
    assert sum(c["amount_usd"] for c in alert["causes"]["accounts"]) == pytest.approx(261.0)


@pytest.fixture
def api(month):
    settings, db = month
    client = create_app(settings).test_client()

    def call(method: str, org: str, path: str = "", **kwargs: Any):
        headers = {"Authorization": f"Bearer {auth.issue_token(db, org)}"}
        url = f"/restapi/v2/organizations/{org}/budgets{path}"
        return client.open(url, method=method, headers=headers, **kwargs)

    return call


def test_the_budgets_api_creates_lists_changes_and_deletes(api):
    created = api("POST", ORG, json={"name": "June", "scope": "organization", "amount_usd": 300})
    assert created.status_code == 201
    budget = created.get_json()
    assert budget["thresholds"] == [50.0, 80.0, 100.0]
    one = api("GET", ORG, f"/{budget['id']}", query_string={"as_of": "2026-06-10"}).get_json()
    assert one["status"]["month_to_date_usd"] == pytest.approx(105.0)
    assert one["status"]["forecast_usd"] == pytest.approx(345.0)
    changed = api("PUT", ORG, f"/{budget['id']}", json={"amount_usd": 100, "thresholds": [90]})
    assert (changed.get_json()["amount_usd"], changed.get_json()["thresholds"]) == (100.0, [90.0])
    listed = api("GET", ORG, query_string={"as_of": "2026-06-10"}).get_json()
    assert budget["id"] in {b["id"] for b in listed["budgets"]}
    assert api("DELETE", ORG, f"/{budget['id']}").status_code == 204
    assert api("GET", ORG, f"/{budget['id']}").status_code == 404


def test_the_api_reads_namespace_and_label_budgets_without_scanning_accounts(
    api, month, monkeypatch
):
    """The allocation budgets' clusters come from the API's catalog (api/catalog/), as
    k8s_costs' do, not from a scan of the organization's account documents per budget."""
    _, db = month
    for scope in ("namespace:web", "label:team=shop"):
        _budget(db, scope)
    api("GET", ORG, query_string={"as_of": "2026-06-10"})  # the catalog read once

    def scanned(*_: Any, **__: Any) -> None:
        raise AssertionError("a budget request scanned the account documents")

    monkeypatch.setattr(budgets.registry, "list_accounts", scanned)
    listed = api("GET", ORG, query_string={"as_of": "2026-06-10"}).get_json()
    spent = {b["scope"]: b["status"]["month_to_date_usd"] for b in listed["budgets"]}
    assert spent["namespace:web"] == pytest.approx(10.0, rel=1e-12)
    assert spent["label:team=shop"] == pytest.approx(15.0, rel=1e-12)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scope": "organization"},
        {"name": "x", "scope": "organization", "amount_usd": -5},
        {"name": "x", "scope": "team:shop", "amount_usd": 5},
        {"name": "x", "scope": "organization", "amount_usd": 5, "thresholds": ["a"]},
        {"name": "x", "scope": "organization", "amount_usd": 5, "color": "red"},
        {"name": "x", "scope": "cloud_account_id:k8s-9", "amount_usd": 5},
    ],
)
def test_bad_bodies_get_400_problems(api, body):
    answer = api("POST", ORG, json=body)
    assert answer.status_code == 400
    assert answer.get_json()["status"] == 400 and answer.get_json()["detail"]


def test_another_organizations_budget_is_not_reachable(api, month):
    _, db = month
    theirs = store.add_budget(db, "org-other", "theirs", "organization", 10)
    assert api("GET", ORG, f"/{theirs['_id']}").status_code == 404
    assert api("PUT", ORG, f"/{theirs['_id']}", json={"amount_usd": 1}).status_code == 404
    assert api("DELETE", ORG, f"/{theirs['_id']}").status_code == 404
    assert store.get_budget(db, theirs["_id"])["amount_usd"] == 10
    other = api("GET", "org-other", "")
    assert other.status_code == 200 and {b["id"] for b in other.get_json()["budgets"]} == {
        theirs["_id"]
    }


def test_a_token_of_another_organization_gets_403(month):
    settings, db = month
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {auth.issue_token(db, ORG)}"}
    for method in ("GET", "POST"):
        answer = client.open(
            "/restapi/v2/organizations/org-other/budgets",
            method=method,
            headers=headers,
            json={"name": "x", "scope": "organization", "amount_usd": 5},
        )
        assert answer.status_code == 403


def test_the_days_left_are_those_of_the_month(month):
    assert [
        budgets.month_figures({"amount_usd": 1.0, "thresholds": [100.0]}, {}, day).days_left
        for day in (date(2026, 2, 28), date(2028, 2, 1), date(2026, 12, 31))
    ] == [0, 28, 0]


def test_an_organization_budget_counts_a_billed_node_once_in_its_cluster(tmp_path):
    """A node VM in the AWS bill ($4 a day, June 1-3) of a cluster with a cost on June 2
    and 3 ($10 a day), beside an S3 bucket ($1 a day). Folded into its cluster on the
    days it has a cost (docs/api.md), the organization's month-to-date after June 3 is
    2 x 10 + 4 (June 1's VM) + 3 x 1 = $27, not 35; the AWS account's own budget
    counts its whole bill, 3 x 4 + 3 x 1 = $15."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.add_account(db, "org-n", "cluster", "k8s-n")
    cluster = registry.record_cluster_seen(
        db, account, JUNE[1], {"name": "c"}, ["aws:///us-east-1a/i-0abc"]
    )
    db.cloud_accounts.insert_one(
        {
            "_id": "aws-n",
            "organization_id": "org-n",
            "type": "aws_cnr",
            "name": "aws",
            "deleted_at": 0,
        }
    )
    for resource_id, cloud_id in (
        ("vm-1", "arn:aws:ec2:us-east-1:1:instance/i-0abc"),
        ("s3-1", "b"),
    ):
        db.resources.insert_one(
            {
                "_id": resource_id,
                "cloud_account_id": "aws-n",
                "organization_id": "org-n",
                "cloud_resource_id": cloud_id,
                "resource_type": "Instance",
            }
        )
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        for day in JUNE[:3]:
            bill = pd.DataFrame(
                [{"resource_id": "vm-1", "cost": 4.0}, {"resource_id": "s3-1", "cost": 1.0}]
            )
            warehouse.restate_day(client, "expenses", "aws-n", day, bill)
            if day > JUNE[0]:
                k8s = pd.DataFrame([{"resource_id": cluster["_id"], "cost": 10.0}])
                warehouse.restate_day(client, "expenses", "k8s-n", day, k8s)
        reader = budgets.SpendReader(client, db)
        figures = {
            scope: budgets.budget_month(
                reader,
                {
                    "organization_id": "org-n",
                    "scope": scope,
                    "amount_usd": 100.0,
                    "thresholds": [50],
                },
                JUNE[2],
            )
            for scope in ("organization", "cloud_account_id:aws-n")
        }
    assert figures["organization"].month_to_date_usd == pytest.approx(27.0, abs=1e-9)
    assert figures["organization"].by_account == pytest.approx({"k8s-n": 20.0, "aws-n": 7.0})
    assert figures["cloud_account_id:aws-n"].month_to_date_usd == pytest.approx(15.0, abs=1e-9)
    # The API folds with its catalog's nodes (no document read per request): the same.
    store.add_budget(db, "org-n", "all", "organization", 100.0)
    store.add_budget(db, "org-n", "aws", "cloud_account_id:aws-n", 100.0)
    answer = (
        create_app(settings)
        .test_client()
        .get(
            "/restapi/v2/organizations/org-n/budgets",
            query_string={"as_of": JUNE[2].isoformat()},
            headers={"Authorization": f"Bearer {auth.issue_token(db, 'org-n')}"},
        )
        .get_json()
    )
    spent = {b["scope"]: b["status"]["month_to_date_usd"] for b in answer["budgets"]}
    assert spent == pytest.approx({"organization": 27.0, "cloud_account_id:aws-n": 15.0})
