"""The Flask API over a real embedded ClickHouse (chdb) and montydb under tmp_path.

Data is written with the pipeline's own functions (registry, warehouse) or as the
documents the importers write, and every expected figure is computed here from
what was written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from api import auth
from api.app import create_app
from api.catalog.nodes import instance_key
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.costmodel.assets import COMPONENTS
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

URL = "/restapi/v2/organizations/{org}/clean_expenses"
DAY1 = date(2024, 3, 1)
BREAKDOWN_COLUMNS = list(COMPONENTS)


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


class Api:
    """A test client that presents a token of the organization it asks about."""

    def __init__(self, client: FlaskClient, db: Any) -> None:
        self.client = client
        self.db = db
        self.tokens: dict[str, str] = {}

    def headers(self, org: str) -> dict[str, str]:
        if org not in self.tokens:
            self.tokens[org] = auth.issue_token(self.db, org)
        return {"Authorization": f"Bearer {self.tokens[org]}"}

    def get(self, org: str, query: Any, path: str = URL) -> Any:
        return self.client.get(path.format(org=org), query_string=query, headers=self.headers(org))

    def expenses(self, org: str, start: int, end: int, **extra: Any) -> Any:
        pairs = [("start_date", start), ("end_date", end)]
        for name, value in extra.items():
            values = value if isinstance(value, list) else [value]
            pairs += [(name, item) for item in values]
        response = self.get(org, pairs)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def api(app: APIFlask, db: Any) -> Iterator[Api]:
    with app.test_client() as test_client:
        yield Api(test_client, db)


def add_cluster(db: Any, organization_id: str, account_id: str, days: list[int]) -> str:
    """Register a kubernetes_cnr account whose cluster was seen on `days`; its resource id."""
    account = registry.add_account(db, organization_id, f"name-{account_id}", account_id)
    for n in days:
        resource = registry.record_cluster_seen(
            db, account, day(n), {"name": f"cluster-{account_id}", "region": "eu-west-1"}
        )
    return resource["_id"]


def add_cloud_account(db: Any, organization_id: str, account_id: str, kind: str = "aws_cnr"):
    db.cloud_accounts.insert_one(
        {
            "_id": account_id,
            "organization_id": organization_id,
            "type": kind,
            "name": f"name-{account_id}",
            "config": {},
            "created_at": 1,
            "deleted_at": 0,
            "last_import_at": 0,
        }
    )


def add_resource(db: Any, organization_id: str, account_id: str, resource_id: str, **fields: Any):
    """A cloud-bill resource document as the FOCUS importer writes it."""
    document = {
        "_id": resource_id,
        "cloud_account_id": account_id,
        "organization_id": organization_id,
        "cloud_resource_id": f"cloud-{resource_id}",
        "resource_type": "Instance",
        "service_name": "AmazonEC2",
        "name": f"vm-{resource_id}",
        "region": "us-east-1",
        "first_seen": day_start_epoch(day(1)),
        "last_seen": day_start_epoch(day(2)) - 1,
        "tags": {},
        "meta": {},
        "deleted_at": 0,
        "created_at": 1,
    }
    db.resources.insert_one({**document, **fields})


def write_cost(settings: Settings, account_id: str, resource_id: str, n: int, cost: float) -> None:
    write_costs(settings, account_id, n, {resource_id: cost})


def write_costs(settings: Settings, account_id: str, n: int, costs: dict[str, float]) -> None:
    """Restate the account-day to exactly `costs` (resource id -> cost)."""
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(
            client,
            "expenses",
            account_id,
            day(n),
            pd.DataFrame({"resource_id": list(costs), "cost": list(costs.values())}),
        )


def write_breakdown(
    settings: Settings, account_id: str, resource_id: str, n: int, values: dict[str, float]
) -> None:
    frame = pd.DataFrame({"resource_id": [resource_id]})
    for column in BREAKDOWN_COLUMNS:
        frame[column] = [values.get(column, 0.0)]
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(client, "k8s_cost_breakdown", account_id, day(n), frame)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["resource_id"] for item in body["clean_expenses"]]


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
    settings: Settings, db: Any, api: Api, start: int, end: int, days_in: list[int]
) -> None:
    resource_id = add_cluster(db, "org-1", "acc-1", list(DAILY_COSTS))
    for n, cost in DAILY_COSTS.items():
        write_cost(settings, "acc-1", resource_id, n, cost)

    body = api.expenses("org-1", start, end)

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
    settings: Settings, db: Any, api: Api
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

    body = api.expenses("org-1", day_start_epoch(day(1)), day_start_epoch(day(3)))

    expected_cost = sum(sum(values.values()) for values in final.values())
    assert body["total_count"] == 1
    assert body["total_cost"] == pytest.approx(expected_cost)
    (item,) = body["clean_expenses"]
    assert item["cost"] == pytest.approx(expected_cost)
    assert item["k8s_costs"] == {
        column: pytest.approx(sum(values.get(column, 0.0) for values in final.values()))
        for column in BREAKDOWN_COLUMNS
    }
    assert item["billed_nodes"] == []


def test_restated_and_untouched_days_of_many_resources_add_up(
    settings: Settings, db: Any, api: Api
) -> None:
    """Summing a resource's rows at once (live and dead keys) equals collapsing key by key."""
    add_cloud_account(db, "org-1", "aws-1")
    for name in ("a", "b", "c"):
        add_resource(db, "org-1", "aws-1", name)
    write_costs(settings, "aws-1", 1, {"a": 1.0, "b": 2.0, "c": 4.0})
    write_costs(settings, "aws-1", 2, {"a": 8.0, "b": 16.0})
    write_costs(settings, "aws-1", 2, {"a": 32.0, "c": 64.0})  # b vanished from day 2
    write_costs(settings, "aws-1", 3, {"b": 128.0})
    write_costs(settings, "aws-1", 3, {})  # day 3 restated to nothing

    body = api.expenses("org-1", 0, day_start_epoch(day(3)))

    assert {item["resource_id"]: item["cost"] for item in body["clean_expenses"]} == {
        "c": pytest.approx(68.0),
        "a": pytest.approx(33.0),
        "b": pytest.approx(2.0),
    }
    assert ids(body) == ["c", "a", "b"]
    assert body["total_cost"] == pytest.approx(103.0)


def test_day_restated_to_nothing_leaves_no_item(settings: Settings, db: Any, api: Api) -> None:
    """Cancel rows alone (sum(sign) = 0) must not surface as a resource costing 0."""
    resource_id = add_cluster(db, "org-1", "acc-1", [1])
    write_cost(settings, "acc-1", resource_id, 1, 5.0)
    write_costs(settings, "acc-1", 1, {})

    body = api.expenses("org-1", 0, day_start_epoch(day(1)))

    assert body["clean_expenses"] == []
    assert body["total_count"] == 0


def test_item_carries_resource_and_account_fields(settings: Settings, db: Any, api: Api) -> None:
    resource_id = add_cluster(db, "org-1", "acc-1", [1, 2])
    write_cost(settings, "acc-1", resource_id, 1, 5.0)

    (item,) = api.expenses("org-1", 0, day_start_epoch(day(2)))["clean_expenses"]

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
    settings: Settings, db: Any, api: Api
) -> None:
    add_cloud_account(db, "org-1", "aws-1")
    add_resource(db, "org-1", "aws-1", "vm-1", tags={"team": "a"})
    write_cost(settings, "aws-1", "vm-1", 1, 2.5)

    (item,) = api.expenses("org-1", 0, day_start_epoch(day(1)))["clean_expenses"]

    assert item["resource_id"] == "vm-1"
    assert item["cloud_account_type"] == "aws_cnr"
    assert item["tags"] == {"team": "a"}
    assert item["cost"] == pytest.approx(2.5)
    assert "k8s_costs" not in item and "billed_nodes" not in item
    assert "k8s_cluster_id" not in item


def test_another_organizations_accounts_never_appear(settings: Settings, db: Any, api: Api) -> None:
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

    body = api.expenses("org-1", *period)
    assert [item["cloud_account_id"] for item in body["clean_expenses"]] == ["acc-mine"]
    assert body["total_cost"] == pytest.approx(1.0)

    asked_for_theirs = api.expenses("org-1", *period, cloud_account_id="acc-theirs")
    assert asked_for_theirs["clean_expenses"] == []
    assert asked_for_theirs["total_count"] == 0

    unknown_org = api.expenses("org-unknown", *period)
    assert unknown_org["clean_expenses"] == []
    assert unknown_org["total_cost"] == 0


def test_sorted_by_cost_limit_cuts_after_totals_and_filter_by_accounts(
    settings: Settings, db: Any, api: Api
) -> None:
    costs = {"acc-a": 3.0, "acc-b": 10.0, "acc-c": 1.0}
    for account_id, cost in costs.items():
        write_cost(settings, account_id, add_cluster(db, "org-1", account_id, [1]), 1, cost)
    add_cluster(db, "org-1", "acc-idle", [1])  # no cost in the period: not listed
    period = (0, day_start_epoch(day(1)))
    by_cost = sorted(costs, key=costs.__getitem__, reverse=True)

    everything = api.expenses("org-1", *period)
    assert [item["cloud_account_id"] for item in everything["clean_expenses"]] == by_cost

    limited = api.expenses("org-1", *period, limit=2)
    assert [item["cloud_account_id"] for item in limited["clean_expenses"]] == by_cost[:2]
    assert limited["limit"] == 2
    assert limited["total_count"] == len(costs)
    assert limited["total_cost"] == pytest.approx(sum(costs.values()))

    chosen = ["acc-a", "acc-c"]
    filtered = api.expenses("org-1", *period, cloud_account_id=chosen)
    assert [item["cloud_account_id"] for item in filtered["clean_expenses"]] == chosen
    assert filtered["total_cost"] == pytest.approx(sum(costs[a] for a in chosen))
    assert filtered["total_count"] == len(chosen)


# Resources of one organization for the attribute filters, with their day-1 cost.
CATALOG = {
    "vm-a": ({"region": "us-east-1", "tags": {"team": "a", "env": "prod"}}, 1.0),
    "vm-b": ({"region": "eu-west-1", "tags": {"team": "b"}}, 2.0),
    "db-1": (
        {"region": "us-east-1", "service_name": "AmazonRDS", "resource_type": "Database"},
        4.0,
    ),
    "bucket": (
        {"region": None, "service_name": "AmazonS3", "resource_type": "Bucket", "tags": {}},
        8.0,
    ),
}


@pytest.fixture
def catalog_org(settings: Settings, db: Any) -> dict[str, float]:
    """CATALOG in account aws-1, plus a cluster in acc-k8s; resource id -> cost."""
    add_cloud_account(db, "org-1", "aws-1")
    for resource_id, (fields, _) in CATALOG.items():
        add_resource(db, "org-1", "aws-1", resource_id, **fields)
    write_costs(settings, "aws-1", 1, {rid: cost for rid, (_, cost) in CATALOG.items()})
    cluster = add_cluster(db, "org-1", "acc-k8s", [1])
    write_cost(settings, "acc-k8s", cluster, 1, 16.0)
    return {**{rid: cost for rid, (_, cost) in CATALOG.items()}, cluster: 16.0}


ATTRIBUTE_CASES = [
    ({"region": "us-east-1"}, ["db-1", "vm-a"]),
    ({"region": ["us-east-1", "eu-west-1"]}, ["cluster", "db-1", "vm-b", "vm-a"]),
    ({"service_name": "AmazonEC2"}, ["vm-b", "vm-a"]),
    ({"service_name": ["AmazonS3", "Kubernetes"]}, ["cluster", "bucket"]),
    ({"resource_type": "Database"}, ["db-1"]),
    ({"resource_type": ["K8s Cluster", "Instance"]}, ["cluster", "vm-b", "vm-a"]),
    ({"tag": "team"}, ["vm-b", "vm-a"]),
    ({"tag": ["env", "missing"]}, ["vm-a"]),
    ({"without_tag": "team"}, ["cluster", "bucket", "db-1"]),
    ({"without_tag": ["env", "team"]}, ["cluster", "bucket", "db-1"]),
    ({"tag": "team", "without_tag": "env"}, ["vm-b"]),
    ({"region": "us-east-1", "service_name": "AmazonEC2"}, ["vm-a"]),
    ({"cloud_account_id": "aws-1", "region": "eu-west-1"}, ["vm-b"]),
    ({"region": "nowhere"}, []),
]


def test_attribute_filters_select_resources_and_totals_follow(
    api: Api, catalog_org: dict[str, float]
) -> None:
    """One data set, every case (so the suite builds the stores once)."""
    cluster = next(rid for rid in catalog_org if rid not in CATALOG)
    for filters, expected in ATTRIBUTE_CASES:
        wanted = [cluster if name == "cluster" else name for name in expected]

        body = api.expenses("org-1", 0, day_start_epoch(day(1)), **filters)

        assert ids(body) == wanted, filters
        assert body["total_count"] == len(wanted), filters
        assert body["total_cost"] == pytest.approx(sum(catalog_org[rid] for rid in wanted))
        limited = api.expenses("org-1", 0, day_start_epoch(day(1)), limit=1, **filters)
        assert ids(limited) == wanted[:1], filters
        assert limited["total_count"] == len(wanted), filters
        assert limited["total_cost"] == pytest.approx(body["total_cost"]), filters


def write_allocation(settings: Settings, account_id: str, n: int, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    for column in BREAKDOWN_COLUMNS:
        frame[column] = frame[column].fillna(0.0) if column in frame else 0.0
    frame["cost"] = frame[BREAKDOWN_COLUMNS].sum(axis=1)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(client, "k8s_allocation", account_id, day(n), frame)


def pod_row(resource_id: str, namespace: str, node: str, services: list[str], **cost: float):
    return {
        "resource_id": resource_id,
        "namespace": namespace,
        "pod": f"pod-{resource_id}",
        "node": node,
        "services": services,
        **cost,
    }


ALLOCATION = [
    pod_row("r1", "shop", "n1", ["checkout", "web"], cpu_cost=1.0),
    pod_row("r2", "shop", "n2", ["web"], ram_cost=2.0),
    pod_row("r3", "data", "n1", ["db"], pv_cost=4.0),
    pod_row("r4", "__idle__", "n1", [], cpu_cost=8.0),
    pod_row("r5", "__unmounted__", "", ["web"], load_balancer_cost=16.0),
]


ALLOCATION_CASES = [
    ({"k8s_namespace": "shop"}, ["r1", "r2"]),
    ({"k8s_namespace": ["shop", "data"]}, ["r1", "r2", "r3"]),
    ({"k8s_node": "n1"}, ["r1", "r3", "r4"]),
    ({"k8s_namespace": "shop", "k8s_node": "n1"}, ["r1"]),
    ({"k8s_namespace": "nothing"}, []),
    ({"k8s_service": "web"}, ["r1", "r2", "r5"]),
    ({"k8s_service": "checkout"}, ["r1"]),
    ({"k8s_service": ["checkout", "db"]}, ["r1", "r3"]),
    ({"k8s_service": "web", "k8s_namespace": "shop"}, ["r1", "r2"]),
    ({"k8s_service": "web", "k8s_node": "n2"}, ["r2"]),
    ({"k8s_service": "nothing"}, []),
]


def test_k8s_namespace_node_and_service_filters_cost_clusters_from_their_allocation(
    settings: Settings, db: Any, api: Api
) -> None:
    add_cloud_account(db, "org-1", "aws-1")
    add_resource(db, "org-1", "aws-1", "vm-1")
    write_cost(settings, "aws-1", "vm-1", 1, 100.0)
    first = add_cluster(db, "org-1", "acc-1", [1, 2])
    second = add_cluster(db, "org-1", "acc-2", [1])
    write_allocation(settings, "acc-1", 1, ALLOCATION)
    write_allocation(settings, "acc-1", 2, ALLOCATION)
    write_allocation(settings, "acc-1", 2, ALLOCATION[:2])  # day 2 restated: r3 to r5 gone
    write_allocation(settings, "acc-2", 1, ALLOCATION[:1])
    by_id = {row["resource_id"]: row for row in ALLOCATION}

    def expected(account_days: list[int], kept: list[str]) -> dict[str, float]:
        totals = dict.fromkeys(BREAKDOWN_COLUMNS, 0.0)
        for n in account_days:
            live = [r for r in kept if r in ({"r1", "r2"} if n == 2 else by_id)]
            for row_id in live:
                for column in BREAKDOWN_COLUMNS:
                    totals[column] += by_id[row_id].get(column, 0.0)
        return totals

    for filters, rows in ALLOCATION_CASES:
        body = api.expenses("org-1", 0, day_start_epoch(day(2)), **filters)

        wanted = {
            first: expected([1, 2], rows),
            second: expected([1], [r for r in rows if r == "r1"]),
        }
        wanted = {cluster: parts for cluster, parts in wanted.items() if any(parts.values())}
        by_item = {item["resource_id"]: item for item in body["clean_expenses"]}
        assert set(by_item) == set(wanted), filters
        for cluster, parts in wanted.items():
            assert by_item[cluster]["k8s_costs"] == pytest.approx(parts)
            assert by_item[cluster]["cost"] == pytest.approx(sum(parts.values()))
        assert body["total_cost"] == pytest.approx(sum(sum(p.values()) for p in wanted.values()))
        assert [item["cost"] for item in body["clean_expenses"]] == sorted(
            (item["cost"] for item in body["clean_expenses"]), reverse=True
        )


def test_an_unknown_k8s_service_is_an_empty_answer_and_a_limit_cuts_after_totals(
    settings: Settings, db: Any, api: Api
) -> None:
    first = add_cluster(db, "org-1", "acc-1", [1])
    add_cluster(db, "org-1", "acc-2", [1])
    write_allocation(settings, "acc-1", 1, ALLOCATION)
    write_allocation(settings, "acc-2", 1, ALLOCATION[1:2])

    unknown = api.expenses("org-1", 0, day_start_epoch(day(1)), k8s_service="no-such")
    assert (unknown["total_count"], unknown["total_cost"], unknown["clean_expenses"]) == (0, 0, [])
    limited = api.expenses("org-1", 0, day_start_epoch(day(1)), k8s_service="web", limit=1)
    assert ids(limited) == [first]
    assert limited["total_count"] == 2
    assert limited["total_cost"] == pytest.approx(1.0 + 2.0 + 16.0 + 2.0)
    other = api.expenses("org-2", 0, day_start_epoch(day(1)), k8s_service="web")
    assert other["total_count"] == 0  # another organization's token sees none of it


@pytest.mark.parametrize(
    ("provider_id", "bill_id"),
    [
        ("aws:///us-east-1a/i-0abc123", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc123"),
        ("aws:///us-east-1a/i-0abc123", "i-0abc123"),
        ("gce://proj/europe-west1-b/gke-pool-1", "//compute.googleapis.com/p/zones/z/gke-pool-1"),
        (
            "azure:///subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/"
            "virtualMachineScaleSets/aks-pool/virtualMachines/3",
            "/subscriptions/S/resourcegroups/rg/providers/microsoft.compute/"
            "virtualmachinescalesets/AKS-POOL/virtualmachines/3",
        ),
    ],
)
def test_instance_key_matches_provider_ids_with_bill_ids(provider_id: str, bill_id: str) -> None:
    assert instance_key(provider_id) == instance_key(bill_id) != ""


def test_scale_set_instances_of_different_sets_do_not_match() -> None:
    assert instance_key(".../virtualMachineScaleSets/a/virtualMachines/3") != instance_key(
        ".../virtualMachineScaleSets/b/virtualMachines/3"
    )


@pytest.fixture
def node_org(settings: Settings, db: Any) -> dict[str, str]:
    """A cluster with K8s costs on days 1-2 whose node VM is billed on days 1-3.

    Also: a VM that is no node, and another organization whose cluster lists the same
    instance id (it must not fold this organization's VM).
    """
    cluster = add_cluster(db, "org-1", "acc-k8s", [1, 2])
    db.resources.update_one(
        {"_id": cluster},
        {"$set": {"meta.node_provider_ids": ["aws:///us-east-1a/i-0node", "aws:///x/i-gone"]}},
    )
    write_cost(settings, "acc-k8s", cluster, 1, 10.0)
    write_cost(settings, "acc-k8s", cluster, 2, 20.0)
    add_cloud_account(db, "org-1", "aws-1")
    arn = "arn:aws:ec2:us-east-1:123456789012:instance/i-0node"
    add_resource(db, "org-1", "aws-1", "node-vm", cloud_resource_id=arn, name="node")
    add_resource(db, "org-1", "aws-1", "other-vm", cloud_resource_id="i-0other")
    for n, (node_cost, other_cost) in {1: (1.0, 100.0), 2: (2.0, 100.0), 3: (4.0, 100.0)}.items():
        write_costs(settings, "aws-1", n, {"node-vm": node_cost, "other-vm": other_cost})
    theirs = add_cluster(db, "org-2", "acc-theirs", [1])
    db.resources.update_one(
        {"_id": theirs}, {"$set": {"meta.node_provider_ids": ["aws:///x/i-0other"]}}
    )
    write_cost(settings, "acc-theirs", theirs, 1, 1000.0)
    return {"cluster": cluster, "arn": arn}


def test_billed_node_is_counted_once_in_its_cluster_on_days_the_cluster_has_costs(
    api: Api, node_org: dict[str, str]
) -> None:
    cluster = node_org["cluster"]
    body = api.expenses("org-1", 0, day_start_epoch(day(3)))

    items = {item["resource_id"]: item for item in body["clean_expenses"]}
    assert ids(body) == ["other-vm", cluster, "node-vm"]
    # Days 1-2 of the node's bill are inside the cluster's K8s cost; day 3 is not.
    assert items[cluster]["cost"] == pytest.approx(30.0)
    assert items[cluster]["billed_nodes"] == [
        {
            "resource_id": "node-vm",
            "cloud_resource_id": node_org["arn"],
            "cloud_account_id": "aws-1",
            "name": "node",
            "cost": pytest.approx(3.0),
        }
    ]
    assert items["node-vm"]["cost"] == pytest.approx(4.0)
    assert items["node-vm"]["k8s_cluster_id"] == cluster
    assert items["node-vm"]["k8s_cluster_name"] == "cluster-acc-k8s"
    assert "k8s_cluster_id" not in items["other-vm"]
    assert body["total_count"] == 3
    assert body["total_cost"] == pytest.approx(30.0 + 4.0 + 300.0)


def test_restated_node_and_cluster_days_fold_by_their_live_rows_only(
    settings: Settings, api: Api, node_org: dict[str, str]
) -> None:
    cluster = node_org["cluster"]
    write_costs(settings, "aws-1", 1, {"node-vm": 5.0, "other-vm": 100.0})  # folded day, new value
    write_costs(settings, "aws-1", 3, {"other-vm": 100.0})  # the node's own day, now dead
    write_costs(settings, "acc-k8s", 2, {})  # the cluster's day 2, dead: day 2 is the node's

    body = api.expenses("org-1", 0, day_start_epoch(day(3)))

    items = {item["resource_id"]: item for item in body["clean_expenses"]}
    assert ids(body) == ["other-vm", cluster, "node-vm"]
    assert items[cluster]["cost"] == pytest.approx(10.0)
    assert [node["cost"] for node in items[cluster]["billed_nodes"]] == [pytest.approx(5.0)]
    assert items["node-vm"]["cost"] == pytest.approx(2.0)
    assert body["total_count"] == 3
    assert body["total_cost"] == pytest.approx(10.0 + 2.0 + 300.0)


def test_billed_node_within_the_cluster_days_is_no_item_of_its_own(
    api: Api, node_org: dict[str, str]
) -> None:
    body = api.expenses("org-1", 0, day_start_epoch(day(2)))

    assert ids(body) == ["other-vm", node_org["cluster"]]
    assert body["total_count"] == 2
    assert body["total_cost"] == pytest.approx(30.0 + 200.0)
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                api.get(
                    "org-1", {"start_date": 0, "end_date": day_start_epoch(day(2)), "format": "csv"}
                ).get_data(as_text=True)
            )
        )
    )
    assert [row["resource_id"] for row in csv_rows] == ids(body)
    assert float(csv_rows[1]["billed_nodes_cost"]) == pytest.approx(3.0)


def test_billed_node_keeps_its_whole_cost_when_its_cluster_is_filtered_out(
    api: Api, node_org: dict[str, str]
) -> None:
    body = api.expenses("org-1", 0, day_start_epoch(day(3)), service_name="AmazonEC2")

    items = {item["resource_id"]: item for item in body["clean_expenses"]}
    assert set(items) == {"other-vm", "node-vm"}
    assert items["node-vm"]["cost"] == pytest.approx(7.0)
    assert items["node-vm"]["k8s_cluster_id"] == node_org["cluster"]
    assert body["total_cost"] == pytest.approx(307.0)

    only_cluster = api.expenses("org-1", 0, day_start_epoch(day(3)), service_name="Kubernetes")
    (cluster,) = only_cluster["clean_expenses"]
    assert cluster["cost"] == pytest.approx(30.0)
    assert cluster["billed_nodes"] == []


def test_csv_export_has_the_same_rows_and_totals(
    api: Api, catalog_org: dict[str, float], db: Any, settings: Settings
) -> None:
    add_resource(db, "org-1", "aws-1", "evil", name="=HYPERLINK(1)", tags={"k": "+v"})
    write_costs(
        settings,
        "aws-1",
        1,
        {**{rid: cost for rid, (_, cost) in CATALOG.items()}, "evil": -0.5},
    )
    query = {"start_date": 0, "end_date": day_start_epoch(day(1)), "limit": 3}
    body = api.expenses("org-1", 0, day_start_epoch(day(1)), limit=3)

    response = api.get("org-1", {**query, "format": "csv"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert int(response.headers["X-Total-Count"]) == body["total_count"] == 6
    assert float(response.headers["X-Total-Cost"]) == pytest.approx(body["total_cost"])
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["resource_id"] for row in rows] == ids(body)
    for row, item in zip(rows, body["clean_expenses"], strict=True):
        assert float(row["cost"]) == pytest.approx(item["cost"])
        assert row["cloud_account_id"] == item["cloud_account_id"]
    cluster_row = rows[0]
    assert float(cluster_row["cpu_cost"]) == 0.0 and cluster_row["billed_nodes_cost"] == "0"

    everything = api.get("org-1", {**query, "limit": 10, "format": "csv"}).get_data(as_text=True)
    evil = next(r for r in csv.DictReader(io.StringIO(everything)) if r["resource_id"] == "evil")
    assert evil["resource_name"] == "'=HYPERLINK(1)"
    assert evil["tags"] == '{"k": "+v"}'
    assert float(evil["cost"]) == -0.5


def test_json_format_is_the_document(api: Api, catalog_org: dict[str, float]) -> None:
    query = {"start_date": 0, "end_date": day_start_epoch(day(1))}
    assert (
        api.get("org-1", {**query, "format": "json"}).get_json()
        == api.get("org-1", query).get_json()
    )
    assert_problem(api.get("org-1", {**query, "format": "xlsx"}), 400)


def test_a_new_resource_appears_without_waiting_for_the_catalog_ttl(
    settings: Settings, db: Any, api: Api, app: APIFlask
) -> None:
    add_cloud_account(db, "org-1", "aws-1")
    add_resource(db, "org-1", "aws-1", "old")
    write_cost(settings, "aws-1", "old", 1, 1.0)
    period = (0, day_start_epoch(day(2)))
    assert ids(api.expenses("org-1", *period)) == ["old"]

    add_resource(db, "org-1", "aws-1", "new", name="fresh")
    write_cost(settings, "aws-1", "new", 2, 5.0)
    body = api.expenses("org-1", *period)

    assert ids(body) == ["new", "old"]
    assert body["clean_expenses"][0]["name"] == "fresh"
    cache = app.extensions["k8scost_catalogs"]
    builds = cache.builds
    # An expense row without a document (an orphan) is listed once per rebuild, not rebuilt for.
    write_cost(settings, "aws-1", "orphan", 3, 2.0)
    for _ in range(3):
        body = api.expenses("org-1", 0, day_start_epoch(day(3)))
        assert ids(body) == ["new", "orphan", "old"]
    assert cache.builds == builds + 1
    orphan = body["clean_expenses"][1]
    assert orphan["cloud_account_id"] == "aws-1" and orphan["cost"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end_date": 86400}, "start_date"),
        ({"start_date": 0}, "end_date"),
        ({"start_date": "yesterday", "end_date": 86400}, "start_date"),
        ({"start_date": "1.5", "end_date": 86400}, "start_date"),
        ({"start_date": -1, "end_date": 86400}, "start_date"),
        ({"start_date": 86400, "end_date": 0}, "end_date"),
        ({"start_date": 0, "end_date": 86400, "owner_id": "x"}, "owner_id"),
        ({"start_date": 0, "end_date": 86400, "limit": 0}, "limit"),
        ({"start_date": 0, "end_date": 86400, "limit": "ten"}, "limit"),
        ({"start_date": 0, "end_date": 86400, "format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_a_400_problem_naming_the_field(
    api: Api, query: dict[str, Any], field: str
) -> None:
    body = assert_problem(api.get("org-1", query), 400)
    assert body["title"] == "Bad Request"
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) for message in body["errors"][field])
    assert field in body["detail"]


def test_unknown_route_and_wrong_method_are_json_problems(api: Api) -> None:
    assert_problem(api.client.get("/restapi/v2/nothing-here"), 404)
    not_allowed = assert_problem(api.client.post(URL.format(org="org-1")), 405)
    assert not_allowed["title"] == "Method Not Allowed"


def test_server_error_is_a_json_problem(bare_settings: Settings) -> None:
    """A warehouse without its tables makes the cost query fail inside the handler."""
    db = registry.open_database(bare_settings.mongo_uri, bare_settings.mongo_db)
    add_cluster(db, "org-1", "acc-1", [1])
    app = create_app(bare_settings)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = Api(app.test_client(), db).get("org-1", {"start_date": 0, "end_date": 86400})
    body = assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"


ORG_ROUTES = [URL, "/restapi/v2/organizations/{org}/ingest_status"]
VALID = {"start_date": 0, "end_date": 86400}


BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer k8c_not-a-token",
    "k8c_x",
]


@pytest.mark.parametrize("path", ORG_ROUTES)
def test_no_valid_token_is_a_401_problem_with_a_challenge(api: Api, path: str) -> None:
    for authorization in BAD_AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = api.client.get(path.format(org="org-1"), query_string=VALID, headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), authorization


def test_a_revoked_token_is_a_401(api: Api, db: Any) -> None:
    headers = api.headers("org-1")
    assert (
        api.client.get(URL.format(org="org-1"), query_string=VALID, headers=headers).status_code
        == 200
    )
    assert auth.revoke_organization_tokens(db, "org-1") == 1
    response = api.client.get(URL.format(org="org-1"), query_string=VALID, headers=headers)
    assert_problem(response, 401)


def test_revoking_one_token_keeps_the_others(api: Api, db: Any) -> None:
    first, second = auth.issue_token(db, "org-1"), auth.issue_token(db, "org-1")
    assert auth.revoke_token(db, first) is True
    assert auth.revoke_token(db, first) is False
    for token, status in ((first, 401), (second, 200)):
        response = api.client.get(
            URL.format(org="org-1"),
            query_string=VALID,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status


@pytest.mark.parametrize("path", ORG_ROUTES)
def test_another_organizations_token_is_a_403_and_leaks_nothing(
    settings: Settings, db: Any, api: Api, path: str
) -> None:
    theirs = add_cluster(db, "org-2", "acc-theirs", [1])
    write_cost(settings, "acc-theirs", theirs, 1, 100.0)

    response = api.client.get(
        path.format(org="org-2"), query_string=VALID, headers=api.headers("org-1")
    )

    body = assert_problem(response, 403)
    assert "acc-theirs" not in response.get_data(as_text=True)
    assert "org-2" in body["detail"]


def test_probes_and_docs_are_open(api: Api) -> None:
    for path in ("/livez", "/readyz", "/openapi.json", "/docs"):
        assert api.client.get(path).status_code == 200, path


def test_livez(api: Api) -> None:
    response = api.client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"alive": True}


def test_readyz_when_both_stores_answer(api: Api) -> None:
    response = api.client.get("/readyz")
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


def test_openapi_documents_clean_expenses(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/clean_expenses"]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert parameters[("query", "start_date")]["required"] is True
    assert parameters[("query", "end_date")]["schema"]["type"] == "integer"
    for name in (
        "cloud_account_id",
        "region",
        "service_name",
        "resource_type",
        "k8s_namespace",
        "k8s_node",
        "k8s_service",
        "tag",
        "without_tag",
    ):
        assert parameters[("query", name)]["schema"]["type"] == "array", name
    assert parameters[("query", "limit")]["schema"]["minimum"] == 1
    assert parameters[("query", "format")]["schema"]["enum"] == ["advanced_json", "json", "csv"]
    assert ("path", "organization_id") in parameters

    schemas = spec["components"]["schemas"]
    ok = operation["responses"]["200"]["content"]
    assert "text/csv" in ok
    response_schema = schemas[ok["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(response_schema["properties"]) == {
        "start_date",
        "end_date",
        "total_count",
        "total_cost",
        "clean_expenses",
        "limit",
        "sharing",
    }
    item_ref = response_schema["properties"]["clean_expenses"]["items"]["$ref"]
    item = schemas[item_ref.rsplit("/", 1)[-1]]["properties"]
    assert item["cost"]["type"] == "number"
    assert item["tags"]["type"] == "object"
    assert item["first_seen"]["type"] == "integer"
    assert {"k8s_costs", "billed_nodes", "k8s_cluster_id"} <= set(item)
    for status in ("400", "401", "403"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert set(schemas[ref.rsplit("/", 1)[-1]]["required"]) == {"status", "title", "detail"}
    assert spec["security"] == [{auth.SCHEME_NAME: []}]
    assert spec["components"]["securitySchemes"][auth.SCHEME_NAME]["scheme"] == "bearer"
    assert spec["paths"]["/livez"]["get"]["security"] == []
    page = api.client.get("/docs").get_data(as_text=True)
    assert "openapi.json" in page and "//cdn" not in page and "https://" not in page
