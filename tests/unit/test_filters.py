"""The filter table (api/query/filters.py): every declared filter is applied, by every endpoint.

One organization: two bill VMs and two clusters with allocation rows, with costs of
distinct powers of two, so each filter's expected total names the rows it keeps.
For every filter an endpoint declares, a value matching nothing returns nothing
(`excludes`: everything) and a sample value returns exactly its rows; a filter
declared without a sample here fails the suite, so a new filter gets its case.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from marshmallow import ValidationError

from api import auth
from api.app import create_app
from api.query.clean_expenses import CATALOG_FIELDS
from api.query.filters import (
    BY_NAME,
    CLEAN_EXPENSES,
    DOCUMENT_FIELDS,
    FILTERS,
    K8S_COSTS,
    Filters,
    FilterSet,
    Kind,
    split_pair,
)
from api.query.tokenscope import TokenScope
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.costmodel.assets import COMPONENTS
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

DAY = date(2024, 3, 1)
PERIOD = {"start_date": day_start_epoch(DAY), "end_date": day_start_epoch(DAY)}
PATH = "/restapi/v2/organizations/org-1/{endpoint}"


def pod(resource_id: str, namespace: str, node: str, cost: float, **names: Any) -> dict:
    return {
        "resource_id": resource_id,
        "namespace": namespace,
        "pod": f"pod-{resource_id}",
        "node": node,
        "controller_kind": names.get("kind", ""),
        "controller": names.get("controller", ""),
        "services": names.get("services", []),
        "labels": names.get("labels", {}),
        "namespace_labels": {},
        "cpu_cost": cost,
    }


SHOP = pod("r1", "shop", "n1", 16.0, kind="Deployment", controller="web", services=["web"])
SHOP["labels"] = {"app": "web"}
DATA = pod("r2", "data", "n2", 32.0, kind="StatefulSet", controller="db", services=["db"])
DATA["labels"] = {"app": "db"}
IDLE = pod("r3", "__idle__", "n1", 64.0)
ALLOCATION = {"acc-1": [SHOP, DATA, IDLE], "acc-2": [SHOP]}  # cluster costs 112 and 16
BILL = {"vm-a": 1.0, "vm-b": 2.0}
CLEAN_TOTAL = 1.0 + 2.0 + 112.0 + 16.0
K8S_TOTAL = 112.0 + 16.0

# Per endpoint and filter: a value that narrows, and the total cost it leaves.
SAMPLES = {
    "clean_expenses": {
        "cloud_account_id": ("aws-1", 3.0),
        "region": ("us-east-1", 1.0),
        "service_name": ("AmazonEC2", 1.0),
        "resource_type": ("Instance", 1.0),
        "k8s_namespace": ("shop", 32.0),
        "k8s_node": ("n1", 96.0),
        "k8s_controller": ("StatefulSet/db", 32.0),
        "k8s_service": ("db", 32.0),
        "k8s_label": ("app:db", 32.0),
        "tag": ("team", 1.0),
        "without_tag": ("team", CLEAN_TOTAL - 1.0),
    },
    "k8s_costs": {
        "cloud_account_id": ("acc-2", 16.0),
        "k8s_namespace": ("data", 32.0),
        "k8s_node": ("n1", 96.0),
        "k8s_controller": ("Deployment/web", 32.0),
        "k8s_service": ("db", 32.0),
        "k8s_label": ("app:web", 32.0),
    },
}
TOTALS = {"clean_expenses": CLEAN_TOTAL, "k8s_costs": K8S_TOTAL}
FILTER_SETS = [CLEAN_EXPENSES, K8S_COSTS]


@pytest.fixture(scope="module")
def get(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path_factory.mktemp("filters"))})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    db.cloud_accounts.insert_one(
        {"_id": "aws-1", "organization_id": "org-1", "type": "aws_cnr", "name": "aws"}
        | {"deleted_at": 0}
    )
    for resource_id, fields in (
        ("vm-a", {"region": "us-east-1", "tags": {"team": "a"}}),
        ("vm-b", {"region": "eu-west-1", "service_name": "AmazonS3", "resource_type": "Bucket"}),
    ):
        document = {"service_name": "AmazonEC2", "resource_type": "Instance", "tags": {}}
        db.resources.insert_one(
            document
            | fields
            | {"_id": resource_id, "organization_id": "org-1", "cloud_account_id": "aws-1"}
        )
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        costs = pd.DataFrame({"resource_id": list(BILL), "cost": list(BILL.values())})
        warehouse.restate_day(client, "expenses", "aws-1", DAY, costs)
        for account_id, rows in ALLOCATION.items():
            account = registry.add_account(db, "org-1", f"name-{account_id}", account_id)
            cluster = registry.record_cluster_seen(db, account, DAY, {"region": "eu-central-1"})
            frame = pd.DataFrame(rows)
            for column in COMPONENTS:
                frame[column] = frame[column].fillna(0.0) if column in frame else 0.0
            frame["cost"] = frame[list(COMPONENTS)].sum(axis=1)
            warehouse.restate_day(client, "k8s_allocation", account_id, DAY, frame)
            total = pd.DataFrame({"resource_id": [cluster["_id"]], "cost": [frame["cost"].sum()]})
            warehouse.restate_day(client, "expenses", account_id, DAY, total)
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {auth.issue_token(db, 'org-1')}"}

    def call(endpoint: str, query: list[tuple[str, str]], status: int = 200) -> dict[str, Any]:
        response = client.get(
            PATH.format(endpoint=endpoint), query_string=[*PERIOD.items(), *query], headers=headers
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    call.client = client  # type: ignore[attr-defined]
    return call


def cases(with_aliases: bool = False) -> list[Any]:
    return [
        pytest.param(filter_set, f, id=f"{filter_set.endpoint}-{f.name}")
        for filter_set in FILTER_SETS
        for f in filter_set.filters
        if not with_aliases or (filter_set.aliases and f.alias)
    ]


def test_every_declared_filter_has_a_sample_here() -> None:
    for filter_set in FILTER_SETS:
        assert set(SAMPLES[filter_set.endpoint]) == {f.name for f in filter_set.filters}


def test_without_filters_the_totals_are_every_cost(get: Any) -> None:
    assert get("clean_expenses", [])["total_cost"] == pytest.approx(CLEAN_TOTAL)
    assert get("k8s_costs", [])["total_cost"] == pytest.approx(K8S_TOTAL)


@pytest.mark.parametrize(("filter_set", "declared"), cases())
def test_a_value_matching_nothing_returns_nothing(
    get: Any, filter_set: FilterSet, declared: Any
) -> None:
    nothing = "no-such:value" if declared.pairs else "no-such-value"
    body = get(filter_set.endpoint, [(declared.name, nothing)])
    if declared.excludes:
        assert body["total_cost"] == pytest.approx(TOTALS[filter_set.endpoint])
    else:
        assert (body["total_count"], body["total_cost"]) == (0, 0)


@pytest.mark.parametrize(("filter_set", "declared"), cases())
def test_a_value_keeps_exactly_its_rows(get: Any, filter_set: FilterSet, declared: Any) -> None:
    value, expected = SAMPLES[filter_set.endpoint][declared.name]
    body = get(filter_set.endpoint, [(declared.name, value)])
    assert 0 < body["total_cost"] < TOTALS[filter_set.endpoint]
    assert body["total_cost"] == pytest.approx(expected)


@pytest.mark.parametrize(("filter_set", "declared"), cases(with_aliases=True))
def test_an_older_name_is_the_same_filter(get: Any, filter_set: FilterSet, declared: Any) -> None:
    value, _ = SAMPLES[filter_set.endpoint][declared.name]
    by_name = get(filter_set.endpoint, [(declared.name, value)])
    assert get(filter_set.endpoint, [(declared.alias, value)]) == by_name
    nothing = "no-such:value" if declared.pairs else "no-such-value"
    both = get(filter_set.endpoint, [(declared.name, nothing), (declared.alias, value)])
    if not declared.pairs:  # one filter's values combine with OR (labels: AND)
        assert both == by_name


def test_the_older_names_are_k8s_costs_only(get: Any) -> None:
    for f in K8S_COSTS.filters:
        if f.alias:
            assert get("clean_expenses", [(f.alias, "x")], 400)["errors"] == {
                f.alias: ["Unknown field."]
            }


@pytest.mark.parametrize("name", ["k8s_label", "label"])
def test_a_label_filter_without_key_is_a_400_naming_it(get: Any, name: str) -> None:
    body = get("k8s_costs", [(name, "app:web"), (name, ":web")], 400)
    assert body["errors"] == {name: ["label filter ':web' must be key:value"]}


def test_openapi_lists_every_filter_and_older_name(get: Any) -> None:
    spec = get.client.get("/openapi.json").get_json()
    for filter_set in FILTER_SETS:
        path = f"/restapi/v2/organizations/{{organization_id}}/{filter_set.endpoint}"
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for f in filter_set.filters:
            names = [f.name, f.alias] if filter_set.aliases and f.alias else [f.name]
            for name in names:
                assert parameters[name]["schema"]["type"] == "array", name


def test_the_catalog_reads_every_field_a_filter_reads() -> None:
    assert set(DOCUMENT_FIELDS) <= set(CATALOG_FIELDS)
    assert all(f.field for f in FILTERS)
    assert {f.kind for f in FILTERS} == set(Kind)
    for f in FILTERS:
        assert (f.kind is Kind.ALLOCATION) == bool(f.parameter), f.name
        assert not f.excludes or f.kind is Kind.TAG, f.name


def test_filters_are_a_memo_key_and_know_their_kinds() -> None:
    assert Filters(region=("a",), tag=()) == Filters(region=["a"])
    assert hash(Filters(region=("a",))) == hash(Filters(region=("a",)))
    assert Filters(region=("a",)) != Filters(region=("b",))
    assert Filters(tag=("t",)).narrows_resources and not Filters().narrows_resources
    assert Filters(k8s_node=("n",)).narrows_allocation
    assert not Filters(cloud_account_id=("x",)).narrows_resources
    assert Filters().accounts() is None and Filters(cloud_account_id=["x"]).accounts() == {"x"}
    with pytest.raises(TypeError, match="namespace"):
        Filters(namespace=("x",))


NO_SCOPE = {"scope_namespaces": [], "scope_label_keys": [], "scope_label_values": []}


def test_sql_parameters_cover_every_allocation_filter_of_a_set() -> None:
    assert Filters(k8s_label=["a:b", "c:"]).sql_parameters(K8S_COSTS) == {
        "namespaces": [],
        "nodes": [],
        "controllers": [],
        "services": [],
        "label_keys": ["a", "c"],
        "label_values": ["b", ""],
        **NO_SCOPE,
    }
    assert Filters(k8s_node=["n"]).sql_parameters(CLEAN_EXPENSES) == {
        "namespaces": [],
        "nodes": ["n"],
        "controllers": [],
        "services": [],
        "label_keys": [],
        "label_values": [],
        **NO_SCOPE,
    }
    with pytest.raises(ValidationError):
        split_pair("no-colon")
    assert BY_NAME["k8s_label"].pairs and not BY_NAME["k8s_node"].pairs


def test_a_token_scope_adds_filters_no_query_can_widen() -> None:
    scope = TokenScope.parse(["cluster:c1", "namespace:a", "namespace:b", "label:team=x"])
    filters = Filters(cloud_account_id=["c1", "c2"], k8s_namespace=["a", "z"]).within(scope)
    assert filters.accounts() == {"c1"}  # the request's accounts and the token's, both
    assert filters.narrows_allocation
    parameters = filters.sql_parameters(K8S_COSTS)
    assert parameters["namespaces"] == ["a", "z"] and parameters["scope_namespaces"] == ["a", "b"]
    assert (parameters["scope_label_keys"], parameters["scope_label_values"]) == (["team"], ["x"])
    assert Filters().within(TokenScope()) == Filters()
