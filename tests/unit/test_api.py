"""The Flask API over a real embedded ClickHouse (chdb) and montydb under tmp_path.

Data is written with the pipeline's own functions (registry, warehouse), and
every expected figure is computed here from what was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from api.app import create_app
from etl import registry, warehouse
from etl.clickhouse import connect
from etl.config import Settings
from etl.days import day_start_epoch

URL = "/restapi/v2/organizations/{org}/clean_expenses"
DAY1 = date(2024, 3, 1)
BREAKDOWN_COLUMNS = [
    "cpu_cost",
    "ram_cost",
    "gpu_cost",
    "pv_cost",
    "load_balancer_cost",
    "network_cost",
    "management_cost",
]


def day(n: int) -> date:
    """The n-th test day (1-based)."""
    return DAY1 + timedelta(days=n - 1)


@pytest.fixture
def bare_settings(tmp_path) -> Settings:
    """Settings for stores under tmp_path, before any table exists."""
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})


@pytest.fixture
def settings(bare_settings: Settings) -> Settings:
    with connect(bare_settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    return bare_settings


@pytest.fixture
def db(settings: Settings) -> Any:
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


@pytest.fixture
def app(settings: Settings) -> APIFlask:
    return create_app(settings)


@pytest.fixture
def client(app: APIFlask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def add_cluster(db: Any, organization_id: str, account_id: str, days: list[int]) -> str:
    """Register a kubernetes_cnr account whose cluster was seen on `days`; its resource id."""
    account = registry.add_account(db, organization_id, f"name-{account_id}", account_id)
    for n in days:
        resource = registry.record_cluster_seen(
            db, account, day(n), {"name": f"cluster-{account_id}", "region": "eu-west-1"}
        )
    return resource["_id"]


def write_cost(settings: Settings, account_id: str, resource_id: str, n: int, cost: float) -> None:
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(
            client,
            "expenses",
            account_id,
            day(n),
            pd.DataFrame({"resource_id": [resource_id], "cost": [cost]}),
        )


def write_breakdown(
    settings: Settings, account_id: str, resource_id: str, n: int, values: dict[str, float]
) -> None:
    frame = pd.DataFrame({"resource_id": [resource_id]})
    for column in BREAKDOWN_COLUMNS:
        frame[column] = [values.get(column, 0.0)]
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(client, "k8s_cost_breakdown", account_id, day(n), frame)


def get_expenses(client: FlaskClient, org: str, start: int, end: int, **extra: Any) -> Any:
    response = client.get(
        URL.format(org=org), query_string={"start_date": start, "end_date": end, **extra}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# Powers of two: every subset of days has a distinct sum, so a wrong period shows.
DAILY_COSTS = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0}


@pytest.mark.parametrize(
    ("start", "end", "days_in"),
    [
        (day_start_epoch(day(1)), day_start_epoch(day(4)), [1, 2, 3, 4]),
        (day_start_epoch(day(2)), day_start_epoch(day(3)), [2, 3]),
        (day_start_epoch(day(2)) + 1, day_start_epoch(day(3)), [3]),
        (day_start_epoch(day(2)), day_start_epoch(day(3)) - 1, [2]),
        (day_start_epoch(day(2)), day_start_epoch(day(2)), [2]),
        (0, day_start_epoch(day(1)) - 1, []),
        (day_start_epoch(day(4)) + 1, day_start_epoch(day(5)) - 1, []),
    ],
)
def test_period_includes_days_whose_midnight_lies_in_it(
    settings: Settings, db: Any, client: FlaskClient, start: int, end: int, days_in: list[int]
) -> None:
    resource_id = add_cluster(db, "org-1", "acc-1", list(DAILY_COSTS))
    for n, cost in DAILY_COSTS.items():
        write_cost(settings, "acc-1", resource_id, n, cost)

    body = get_expenses(client, "org-1", start, end)

    expected = sum(DAILY_COSTS[n] for n in days_in)
    assert body["start_date"] == start
    assert body["end_date"] == end
    assert body["total_count"] == (1 if days_in else 0)
    assert body["total_cost"] == pytest.approx(expected)
    assert [item["cost"] for item in body["clean_expenses"]] == (
        [pytest.approx(expected)] if days_in else []
    )
    assert "limit" not in body


def test_cluster_costs_and_breakdown_sum_over_days_with_restated_day_counted_once(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    resource_id = add_cluster(db, "org-1", "acc-1", [1, 2, 3])
    breakdowns = {
        1: {"cpu_cost": 1.0, "ram_cost": 0.5, "pv_cost": 0.25},
        2: {"cpu_cost": 2.0, "ram_cost": 1.0, "gpu_cost": 3.0, "network_cost": 0.125},
        3: {"cpu_cost": 4.0, "load_balancer_cost": 0.75, "management_cost": 2.4},
    }
    restated_day_2 = {"cpu_cost": 20.0, "ram_cost": 10.0, "management_cost": 2.4}
    for n, values in breakdowns.items():
        write_cost(settings, "acc-1", resource_id, n, sum(values.values()))
        write_breakdown(settings, "acc-1", resource_id, n, values)
    # Day 2 is imported again with new figures: only the new ones may count.
    write_cost(settings, "acc-1", resource_id, 2, sum(restated_day_2.values()))
    write_breakdown(settings, "acc-1", resource_id, 2, restated_day_2)
    final = {**breakdowns, 2: restated_day_2}

    body = get_expenses(client, "org-1", day_start_epoch(day(1)), day_start_epoch(day(3)))

    expected_cost = sum(sum(values.values()) for values in final.values())
    assert body["total_count"] == 1
    assert body["total_cost"] == pytest.approx(expected_cost)
    (item,) = body["clean_expenses"]
    assert item["cost"] == pytest.approx(expected_cost)
    assert item["k8s_costs"] == {
        column: pytest.approx(sum(values.get(column, 0.0) for values in final.values()))
        for column in BREAKDOWN_COLUMNS
    }


def test_day_restated_to_nothing_leaves_no_item(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    """Cancel rows alone (sum(sign) = 0) must not surface as a resource costing 0."""
    resource_id = add_cluster(db, "org-1", "acc-1", [1])
    write_cost(settings, "acc-1", resource_id, 1, 5.0)
    with connect(settings.clickhouse_dsn) as ch:
        warehouse.restate_day(
            ch, "expenses", "acc-1", day(1), pd.DataFrame({"resource_id": [], "cost": []})
        )

    body = get_expenses(client, "org-1", 0, day_start_epoch(day(1)))

    assert body["clean_expenses"] == []
    assert body["total_count"] == 0


def test_item_carries_resource_and_account_fields(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    resource_id = add_cluster(db, "org-1", "acc-1", [1, 2])
    write_cost(settings, "acc-1", resource_id, 1, 5.0)

    (item,) = get_expenses(client, "org-1", 0, day_start_epoch(day(2)))["clean_expenses"]

    stored = db.resources.find_one({"_id": resource_id})
    assert item["id"] == item["resource_id"] == resource_id
    assert item["cloud_account_id"] == "acc-1"
    assert item["cloud_account_name"] == "name-acc-1"
    assert item["cloud_account_type"] == registry.K8S_ACCOUNT_TYPE
    assert item["resource_name"] == item["name"] == "cluster-acc-1"
    assert item["resource_type"] == registry.K8S_CLUSTER_RESOURCE_TYPE
    for field in ("cloud_resource_id", "service_name", "region", "tags", "meta"):
        assert item[field] == stored[field]
    assert item["first_seen"] == day_start_epoch(day(1))
    assert item["last_seen"] == day_start_epoch(day(3)) - 1
    assert item["created_at"] == stored["created_at"]
    assert item["deleted_at"] == 0
    assert item["cost"] == pytest.approx(5.0)
    # A cluster whose breakdown was never loaded still reports every component.
    assert item["k8s_costs"] == dict.fromkeys(BREAKDOWN_COLUMNS, 0.0)
    assert "_id" not in item and "organization_id" not in item


def test_resources_other_than_clusters_have_no_k8s_costs(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    """A cloud importer's resource in the same account shows up without a K8s breakdown."""
    add_cluster(db, "org-1", "acc-1", [1])
    db.resources.insert_one(
        {
            "_id": "vm-1",
            "cloud_account_id": "acc-1",
            "organization_id": "org-1",
            "cloud_resource_id": "i-0abc",
            "resource_type": "Instance",
            "service_name": "AmazonEC2",
            "name": "vm",
            "region": "eu-west-1",
            "first_seen": day_start_epoch(day(1)),
            "last_seen": day_start_epoch(day(2)) - 1,
            "tags": {"team": "a"},
            "meta": {},
            "deleted_at": 0,
            "created_at": 1,
        }
    )
    write_cost(settings, "acc-1", "vm-1", 1, 2.5)

    (item,) = get_expenses(client, "org-1", 0, day_start_epoch(day(1)))["clean_expenses"]

    assert item["resource_id"] == "vm-1"
    assert item["tags"] == {"team": "a"}
    assert item["cost"] == pytest.approx(2.5)
    assert "k8s_costs" not in item


def test_another_organizations_accounts_never_appear(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    mine = add_cluster(db, "org-1", "acc-mine", [1])
    theirs = add_cluster(db, "org-2", "acc-theirs", [1])
    gone = add_cluster(db, "org-1", "acc-deleted", [1])
    db.cloud_accounts.update_one({"_id": "acc-deleted"}, {"$set": {"deleted_at": 1}})
    for account_id, resource_id, cost in [
        ("acc-mine", mine, 1.0),
        ("acc-theirs", theirs, 100.0),
        ("acc-deleted", gone, 10.0),
    ]:
        write_cost(settings, account_id, resource_id, 1, cost)
    period = (0, day_start_epoch(day(1)))

    body = get_expenses(client, "org-1", *period)
    assert [item["cloud_account_id"] for item in body["clean_expenses"]] == ["acc-mine"]
    assert body["total_cost"] == pytest.approx(1.0)

    asked_for_theirs = get_expenses(client, "org-1", *period, cloud_account_id="acc-theirs")
    assert asked_for_theirs["clean_expenses"] == []
    assert asked_for_theirs["total_count"] == 0

    unknown_org = get_expenses(client, "org-unknown", *period)
    assert unknown_org["clean_expenses"] == []
    assert unknown_org["total_cost"] == 0


def test_sorted_by_cost_limit_cuts_after_totals_and_filter_by_accounts(
    settings: Settings, db: Any, client: FlaskClient
) -> None:
    costs = {"acc-a": 3.0, "acc-b": 10.0, "acc-c": 1.0}
    for account_id, cost in costs.items():
        write_cost(settings, account_id, add_cluster(db, "org-1", account_id, [1]), 1, cost)
    add_cluster(db, "org-1", "acc-idle", [1])  # no cost in the period: not listed
    period = (0, day_start_epoch(day(1)))
    by_cost = sorted(costs, key=costs.__getitem__, reverse=True)

    everything = get_expenses(client, "org-1", *period)
    assert [item["cloud_account_id"] for item in everything["clean_expenses"]] == by_cost

    limited = get_expenses(client, "org-1", *period, limit=2)
    assert [item["cloud_account_id"] for item in limited["clean_expenses"]] == by_cost[:2]
    assert limited["limit"] == 2
    assert limited["total_count"] == len(costs)
    assert limited["total_cost"] == pytest.approx(sum(costs.values()))

    chosen = ["acc-a", "acc-c"]
    filtered = client.get(
        URL.format(org="org-1"),
        query_string=[("start_date", period[0]), ("end_date", period[1])]
        + [("cloud_account_id", account_id) for account_id in chosen],
    ).get_json()
    assert [item["cloud_account_id"] for item in filtered["clean_expenses"]] == chosen
    assert filtered["total_cost"] == pytest.approx(sum(costs[a] for a in chosen))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end_date": 86400}, "start_date"),
        ({"start_date": 0}, "end_date"),
        ({"start_date": "yesterday", "end_date": 86400}, "start_date"),
        ({"start_date": "1.5", "end_date": 86400}, "start_date"),
        ({"start_date": -1, "end_date": 86400}, "start_date"),
        ({"start_date": 86400, "end_date": 0}, "end_date"),
        ({"start_date": 0, "end_date": 86400, "region": "eu"}, "region"),
        ({"start_date": 0, "end_date": 86400, "limit": 0}, "limit"),
        ({"start_date": 0, "end_date": 86400, "limit": "ten"}, "limit"),
    ],
)
def test_bad_parameters_are_a_400_problem_naming_the_field(
    client: FlaskClient, query: dict[str, Any], field: str
) -> None:
    body = assert_problem(client.get(URL.format(org="org-1"), query_string=query), 400)
    assert body["title"] == "Bad Request"
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) for message in body["errors"][field])
    assert field in body["detail"]


def test_unknown_route_and_wrong_method_are_json_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/restapi/v2/nothing-here"), 404)
    not_allowed = assert_problem(client.post(URL.format(org="org-1")), 405)
    assert not_allowed["title"] == "Method Not Allowed"


def test_server_error_is_a_json_problem(bare_settings: Settings) -> None:
    """A warehouse without its tables makes the cost query fail inside the handler."""
    db = registry.open_database(bare_settings.mongo_uri, bare_settings.mongo_db)
    add_cluster(db, "org-1", "acc-1", [1])
    app = create_app(bare_settings)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(
        URL.format(org="org-1"), query_string={"start_date": 0, "end_date": 86400}
    )
    body = assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"


def test_livez(client: FlaskClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"alive": True}


def test_readyz_when_both_stores_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "ready": True,
        "checks": {"clickhouse": "ok", "mongodb": "ok"},
    }


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({"clickhouse_dsn": "http://127.0.0.1:9/default"}, ["clickhouse"]),
        ({"mongo_uri": "montydb:///dev/null/mongo"}, ["mongodb"]),
        (
            {"clickhouse_dsn": "http://127.0.0.1:9/default", "mongo_uri": "montydb:///dev/null/m"},
            ["clickhouse", "mongodb"],
        ),
    ],
)
def test_readyz_names_the_failing_store(
    settings: Settings, overrides: dict[str, str], failing: list[str]
) -> None:
    app = create_app(settings.with_overrides(**overrides))
    body = assert_problem(app.test_client().get("/readyz"), 503)
    assert sorted(body["errors"]) == failing
    for part in failing:
        assert part in body["detail"]


def test_openapi_documents_clean_expenses(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/clean_expenses"]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert parameters[("query", "start_date")]["required"] is True
    assert parameters[("query", "end_date")]["schema"]["type"] == "integer"
    assert parameters[("query", "cloud_account_id")]["schema"]["type"] == "array"
    assert parameters[("query", "limit")]["schema"]["minimum"] == 1
    assert ("path", "organization_id") in parameters

    schemas = spec["components"]["schemas"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    response_schema = schemas[ok.rsplit("/", 1)[-1]]
    assert set(response_schema["properties"]) == {
        "start_date",
        "end_date",
        "total_count",
        "total_cost",
        "clean_expenses",
        "limit",
    }
    item_ref = response_schema["properties"]["clean_expenses"]["items"]["$ref"]
    item = schemas[item_ref.rsplit("/", 1)[-1]]["properties"]
    assert item["cost"]["type"] == "number"
    assert item["tags"]["type"] == "object"
    assert item["first_seen"]["type"] == "integer"
    assert "k8s_costs" in item
    problem_ref = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[problem_ref.rsplit("/", 1)[-1]]["required"]) == {"status", "title", "detail"}
    assert client.get("/docs").status_code == 200
