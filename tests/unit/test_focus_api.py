"""The imported FOCUS fixture as clean_expenses shows it: account-level items, folding, fields.

The swagger of the platform (clean_expenses.swagger.yaml, the response's item
properties) types these item fields as `string`; the frontend reads them so, and
an item must never carry them as null: a field without a value is left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from etl.bills import account_id, account_level_id, import_bill
from etl.core.config import Settings
from etl.storage import registry
from etl.storage.clickhouse import connect
from tests.focus_bill import (
    ORG,
    Api,
    billed_by_charge_month,
    copy_fixture,
    exact,
    period_query,
    rows,
)

SWAGGER_STRING_FIELDS = (
    "cloud_account_id",
    "cloud_resource_id",
    "employee_id",
    "pool_id",
    "region",
    "resource_type",
    "service_name",
    "id",
    "cloud_account_name",
    "cloud_account_type",
    "resource_id",
    "resource_name",
)
SEPTEMBER = ("2024-09-01T00:00:00Z", "2024-10-01T00:00:00Z")
OCTOBER = ("2024-10-01T00:00:00Z", "2024-11-01T00:00:00Z")
GKE_NODE = "gce://shop-prod/europe-west1-b/gke-shop-node-1"


@pytest.fixture
def settings(tmp_path: Path, with_schema: Callable[[Settings], Settings]) -> Settings:
    settings = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")}))
    import_bill(settings, ORG, copy_fixture(tmp_path / "bill.csv"))
    return settings


def add_cluster(settings: Settings, provider_ids: list[str], cost: float) -> str:
    """A cluster of the organization with those nodes, costed on 2024-09-10; no region known."""
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.add_account(db, ORG, "shop-cluster", "acc-k8s")
    cluster = registry.record_cluster_seen(
        db, account, date(2024, 9, 10), {"name": "shop"}, provider_ids
    )
    with connect(settings.clickhouse_dsn) as client:
        client.insert(
            "expenses",
            [
                [
                    "acc-k8s",
                    cluster["_id"],
                    pd.Timestamp("2024-09-10", tz="UTC").to_pydatetime(),
                    cost,
                    1,
                ]
            ],
            column_names=["cloud_account_id", "resource_id", "date", "cost", "sign"],
        )
    return cluster["_id"]


def items_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item.get("name", item["id"]): item for item in body["clean_expenses"]}


def test_rows_without_resource_id_are_account_level_items(settings: Settings) -> None:
    september = items_by_name(Api(settings).get(**period_query(*SEPTEMBER)))

    aws_prod = account_id(ORG, "aws_cnr", "111100000001")
    tax = september["AmazonEC2 (Tax)"]
    assert tax["id"] == account_level_id(aws_prod, "AmazonEC2", "Tax")
    assert (tax["resource_type"], tax["service_name"], tax["cost"]) == ("Tax", "AmazonEC2", 0.41)
    assert "cloud_resource_id" not in tax and "region" not in tax
    assert tax["meta"] == {"account_level": True, "charge_category": "Tax"}
    assert september["AmazonEC2 (Credit)"]["cost"] == -1.25
    assert september["Virtual Machines (Adjustment)"]["cost"] == -0.73
    assert september["AWS Support (Business) (Purchase)"]["cost"] == 100.0
    october = items_by_name(Api(settings).get(**period_query(*OCTOBER)))
    assert october["Compute Engine (Tax)"]["cloud_account_name"] == "Example Billing"
    assert october["Contoso Firewall (Purchase)"]["cost"] == 25.0


def test_account_level_items_count_when_a_node_is_folded(settings: Settings) -> None:
    """The GKE node's September 10 is inside the cluster; the credit of that day still counts."""
    cluster = add_cluster(settings, [GKE_NODE, "aws:///us-east-1a/Tax", "gce://p/z/credit"], 50.0)

    body = Api(settings).get(**period_query(*SEPTEMBER))

    billed = billed_by_charge_month(rows())["2024-09"]
    node_cost = Decimal("1.87") + Decimal("0.13")
    assert exact(body["total_cost"]) == billed - node_cost + Decimal(50)
    items = items_by_name(body)
    assert "gke-shop-node-1" not in items
    (folded,) = items["shop"]["billed_nodes"]
    assert exact(folded["cost"]) == node_cost
    assert items["Compute Engine (Credit)"]["cost"] == -0.4
    assert "k8s_cluster_id" not in items["AmazonEC2 (Tax)"]
    assert items["shop"]["id"] == cluster


def test_filters_treat_account_level_items_by_their_fields(settings: Settings) -> None:
    api = Api(settings)

    by_region = items_by_name(api.get(**period_query(*SEPTEMBER), region="europe-west1"))
    by_service = items_by_name(api.get(**period_query(*SEPTEMBER), service_name="Compute Engine"))
    by_type = items_by_name(api.get(**period_query(*SEPTEMBER), resource_type="Credit"))

    assert set(by_region) == {"gke-shop-node-1"}  # an account-level item has no region
    assert set(by_service) == {"gke-shop-node-1", "Compute Engine (Credit)"}
    assert set(by_type) == {"AmazonEC2 (Credit)", "Compute Engine (Credit)"}


def test_items_never_carry_null_strings_in_json_or_csv(settings: Settings) -> None:
    add_cluster(settings, [GKE_NODE], 50.0)
    with connect(settings.clickhouse_dsn) as client:  # a cost row without a document
        client.insert(
            "expenses",
            [["acc-k8s", "orphan", pd.Timestamp("2024-09-11", tz="UTC").to_pydatetime(), 1.0, 1]],
            column_names=["cloud_account_id", "resource_id", "date", "cost", "sign"],
        )
    api = Api(settings)
    query = {"start_date": 0, "end_date": period_query(*OCTOBER)["end_date"]}

    items = api.get(**query)["clean_expenses"]
    table = list(csv.DictReader(io.StringIO(api.get(**query, format="csv").get_data(as_text=True))))

    assert {item.get("name") for item in items} >= {"shop", "AmazonEC2 (Tax)", "stweb"}
    for item in items:
        assert None not in item.values(), item
        for field in SWAGGER_STRING_FIELDS:
            assert isinstance(item.get(field, ""), str), (field, item)
    assert [line["resource_id"] for line in table] == [item["resource_id"] for item in items]
    for line, item in zip(table, items, strict=True):
        for column in ("cloud_resource_id", "resource_name", "region", "service_name"):
            assert line[column] == item.get(column, ""), (column, item)
    regions = {item.get("name"): item.get("region") for item in items}
    assert regions["shop"] is None  # the cluster's region is not known
    assert regions["stweb"] == "West Europe"  # RegionId NULL: RegionName
