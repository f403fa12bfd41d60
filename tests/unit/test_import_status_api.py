"""`k8s_import_status`: the ledger per cluster-day, with the days no run recorded."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from api import auth
from api.app import create_app
from api.routes.import_status import ImportStatusSchema
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from etl.worker import ledger

URL = "/restapi/v2/organizations/{org}/k8s_import_status"
D1, D2 = date(2026, 6, 1), date(2026, 6, 2)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})


@pytest.fixture
def db(settings):
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


@pytest.fixture
def get(settings, db):
    client = create_app(settings).test_client()

    def call(org: str, **query: Any):
        headers = {"Authorization": f"Bearer {auth.issue_token(db, org)}"}
        return client.get(URL.format(org=org), query_string=query, headers=headers)

    return call


def period(first: date, last: date) -> dict[str, int]:
    return {"start_date": day_start_epoch(first), "end_date": day_start_epoch(last)}


def test_every_cluster_day_of_the_period_is_listed_missing_ones_included(db, get):
    a = registry.add_account(db, "org-1", "cluster-a", "tenant-a")
    b = registry.add_account(db, "org-1", "cluster-b", "tenant-b")
    registry.add_account(db, "org-2", "elsewhere", "tenant-c")
    ledger.start_attempt(db, a, D1, "run-1")
    ledger.record_loaded(db, a, D1, {"cost": 3.0, "cpu_cost": 3.0}, 2)
    ledger.record_checked(db, a, D1)
    ledger.start_attempt(db, b, D1, "run-1")
    ledger.record_failed(db, b, D1, "extract", RuntimeError("thanos down"))
    body = get("org-1", **period(D1, D2)).get_json()
    assert body["total_count"] == 4
    assert body["status_counts"] == {"succeeded": 1, "failed": 1, "missing": 2}
    items = {(i["cloud_account_id"], i["date"]): i for i in body["k8s_import_status"]}
    good = items[("tenant-a", "2026-06-01")]
    assert (good["status"], good["cost"], good["rows"], good["attempts"]) == (
        "succeeded",
        3.0,
        2,
        1,
    )
    assert good["k8s_costs"] == {"cpu_cost": 3.0} and good["run_id"] == "run-1"
    bad = items[("tenant-b", "2026-06-01")]
    assert bad["status"] == "failed" and bad["last_error"] == "RuntimeError: thanos down"
    assert items[("tenant-a", "2026-06-02")]["status"] == "missing"
    assert items[("tenant-b", "2026-06-02")]["cloud_account_name"] == "cluster-b"
    # Encoded without the schema's dump (api/routes/import_status.py): what it would give.
    assert ImportStatusSchema().dump(body) == body


def test_filters_by_account_and_status(db, get):
    registry.add_account(db, "org-1", "cluster-a", "tenant-a")
    registry.add_account(db, "org-1", "cluster-b", "tenant-b")
    body = get("org-1", cloud_account_id="tenant-b", status="missing", **period(D1, D1)).get_json()
    assert [(i["cloud_account_id"], i["status"]) for i in body["k8s_import_status"]] == [
        ("tenant-b", "missing")
    ]
    assert get("org-1", status="succeeded", **period(D1, D1)).get_json()["total_count"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {"start_date": 10, "end_date": 5},
        {"start_date": 0, "end_date": 400 * 86400},
        {"start_date": 0, "end_date": 5, "status": "done"},
        {"start_date": 0, "end_date": 5, "days": 3},
        {"end_date": 5},
    ],
)
def test_bad_parameters_are_a_400_problem(get, query):
    response = get("org-1", **query)
    assert response.status_code == 400
    assert response.get_json()["title"] == "Bad Request"


def test_a_day_counts_when_its_midnight_is_in_the_period(db, get):
    registry.add_account(db, "org-1", "cluster-a", "tenant-a")
    inside = {"start_date": day_start_epoch(D1) - 1, "end_date": day_start_epoch(D2) - 1}
    assert [i["date"] for i in get("org-1", **inside).get_json()["k8s_import_status"]] == [
        "2026-06-01"
    ]
    after_midnight = {"start_date": day_start_epoch(D1) + 1, "end_date": day_start_epoch(D2) - 1}
    assert get("org-1", **after_midnight).get_json()["total_count"] == 0


def test_a_loaded_day_shows_its_issues_and_quality_failures(db, get):
    a = registry.add_account(db, "org-1", "cluster-a", "tenant-a")
    ledger.start_attempt(db, a, D1, "run-1")
    ledger.record_loaded(
        db, a, D1, {"cost": 3.0}, 2, ["2 of 9 running containers matched no ..."], ["$0"]
    )
    (item,) = get("org-1", **period(D1, D1)).get_json()["k8s_import_status"]
    assert item["status"] == "loaded"
    assert item["issues"] == ["2 of 9 running containers matched no ..."]
    assert item["quality_failures"] == ["$0"]
    ledger.record_loaded(db, a, D1, {"cost": 3.0}, 2)  # a rerun on fixed data clears them
    (item,) = get("org-1", **period(D1, D1)).get_json()["k8s_import_status"]
    assert item["issues"] == [] and item["quality_failures"] == []


def test_only_the_periods_records_of_the_organizations_clusters_are_listed(db, get):
    """The records are found by organization and checked for tenant and day in Python
    (etl/storage/ledger.py find_records); names are encoded as JSON strings."""
    a = registry.add_account(db, "org-1", 'cluster "a" \\ é', "tenant-a")
    elsewhere = registry.add_account(db, "org-2", "elsewhere", "tenant-c")
    before, after = date(2026, 5, 31), date(2026, 6, 3)
    for day in (before, D1, after):
        ledger.start_attempt(db, a, day, f"run-{day}")
    ledger.start_attempt(db, elsewhere, D1, "run-elsewhere")
    body = get("org-1", **period(D1, D2)).get_json()
    assert [
        (i["cloud_account_name"], i["date"], i["status"], i["run_id"])
        for i in body["k8s_import_status"]
    ] == [
        ('cluster "a" \\ é', "2026-06-01", "running", "run-2026-06-01"),
        ('cluster "a" \\ é', "2026-06-02", "missing", None),
    ]
    assert body["status_counts"] == {"running": 1, "missing": 1}
    assert get("org-2", **period(D1, D1)).get_json()["k8s_import_status"][0]["run_id"] == (
        "run-elsewhere"
    )


def test_a_stored_cost_that_is_not_finite_is_a_500_problem(db, get):
    a = registry.add_account(db, "org-1", "cluster-a", "tenant-a")
    ledger.start_attempt(db, a, D1, "run-1")
    ledger.record_loaded(db, a, D1, {"cost": float("inf"), "cpu_cost": float("inf")}, 2)
    response = get("org-1", **period(D1, D1))
    assert response.status_code == 500
    assert "not a finite number" in response.get_json()["detail"]


def test_the_clusters_are_the_organizations_live_ones_by_name_as_they_are_added(settings, db, get):
    """The clusters come from the API's catalog (api/catalog/), not a read of the account
    documents per request: one added after a first answer is in the next one, in name
    order, and an account of another type, of another organization or deleted is not.
    The expected lists are the test's own, from what it wrote."""
    registry.add_account(db, "org-1", "zeta", "tenant-z")
    registry.add_account(db, "org-2", "elsewhere", "tenant-c")
    bill = {"organization_id": "org-1", "type": "aws_cnr", "deleted_at": 0}
    gone = {"organization_id": "org-1", "type": registry.K8S_ACCOUNT_TYPE, "deleted_at": 1}
    registry.save_accounts(
        db, "org-1", [{"_id": "aws-1", "name": "bill", **bill}, {"_id": "t-x", "name": "x", **gone}]
    )

    def listed() -> list[str]:
        body = get("org-1", **period(D1, D1)).get_json()
        return [item["cloud_account_id"] for item in body["k8s_import_status"]]

    assert listed() == ["tenant-z"]
    registry.add_account(db, "org-1", "alpha", "tenant-a")
    assert listed() == ["tenant-a", "tenant-z"]
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {auth.issue_token(db, 'org-1')}"}
    body = client.get("/restapi/v2/organizations/org-1/ingest_status", headers=headers).get_json()
    assert [(c["cloud_account_id"], c["cloud_account_name"]) for c in body["ingest_status"]] == [
        ("tenant-a", "alpha"),
        ("tenant-z", "zeta"),
    ]
