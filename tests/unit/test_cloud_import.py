"""FOCUS bills into cloud accounts, resources and `expenses` (chdb and montydb under tmp_path).

Expected figures are summed here from the bill rows the test writes. The published
spec's conventions (NULLs, four providers, periods, S3...) are tested on the
fixture, in test_focus_import.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.app import create_app
from api.auth import issue_token
from etl.bills import (
    MalformedBillError,
    account_id,
    account_level_id,
    import_bill,
    resource_id,
)
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from etl.storage.clickhouse import connect
from tests.focus_bill import live_expenses, snapshot

ORG = "org-1"
ARN = "arn:aws:ec2:us-east-1:111111111111:instance/i-0node"
ROWS: list[dict[str, Any]] = [
    {
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "SubAccountName": "prod",
        "ChargePeriodStart": "2024-03-01T00:00:00Z",
        "ChargePeriodEnd": "2024-03-01T01:00:00Z",
        "BilledCost": "1.25",
        "ResourceId": ARN,
        "ResourceName": "node-a",
        "ResourceType": "Instance",
        "ServiceName": "AmazonEC2",
        "RegionId": "us-east-1",
        "Tags": json.dumps({"team": "shop"}),
        "BillingCurrency": "USD",
    },
    {
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "SubAccountName": "prod",
        "ChargePeriodStart": "2024-03-01T05:00:00Z",
        "ChargePeriodEnd": "2024-03-01T06:00:00Z",
        "BilledCost": "0.75",
        "ResourceId": ARN,
        "ResourceName": "node-a",
        "ResourceType": "Instance",
        "ServiceName": "AmazonEC2",
        "RegionId": "us-east-1",
        "Tags": json.dumps({"env": "prod"}),
        "BillingCurrency": "USD",
    },
    {
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "SubAccountName": "prod",
        "ChargePeriodStart": "2024-03-02T00:00:00Z",
        "ChargePeriodEnd": "2024-03-03T00:00:00Z",
        "BilledCost": "3",
        "ResourceId": ARN,
        "ResourceName": "node-a",
        "ResourceType": "Instance",
        "ServiceName": "AmazonEC2",
        "RegionId": "us-east-1",
        "Tags": "",
        "BillingCurrency": "USD",
    },
    {
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "SubAccountName": "prod",
        "ChargePeriodStart": "2024-03-02T00:00:00Z",
        "ChargePeriodEnd": "2024-03-03T00:00:00Z",
        "BilledCost": "-0.5",
        "ResourceId": "",
        "ResourceName": "",
        "ResourceType": "",
        "ServiceName": "AWS Support",
        "RegionId": "",
        "Tags": "",
        "BillingCurrency": "USD",
    },
    {
        "ProviderName": "Microsoft",
        "SubAccountId": "sub-9",
        "SubAccountName": "",
        "ChargePeriodStart": "2024-03-01T00:00:00+00:00",
        "ChargePeriodEnd": "2024-03-02T00:00:00+00:00",
        "BilledCost": "10.5",
        "ResourceId": "/subscriptions/sub-9/resourceGroups/rg/providers/Microsoft.Storage/x",
        "ResourceName": "x",
        "ResourceType": "Storage Account",
        "ServiceName": "Storage",
        "RegionId": "westeurope",
        "Tags": "{}",
        "BillingCurrency": "USD",
    },
    {
        "ProviderName": "Google Cloud",
        "SubAccountId": "proj-1",
        "SubAccountName": "Project One",
        "ChargePeriodStart": "2024-03-02T23:00:00Z",
        "ChargePeriodEnd": "2024-03-03T00:00:00Z",
        "BilledCost": "2",
        "ResourceId": "//compute.googleapis.com/projects/proj-1/zones/z/instances/vm-1",
        "ResourceName": "vm-1",
        "ResourceType": "",
        "ServiceName": "Compute Engine",
        "RegionId": "europe-west1",
        "Tags": json.dumps({"team": "data"}),
        "BillingCurrency": "USD",
    },
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")})


def write_csv(tmp_path: Path, rows: list[dict[str, Any]], name: str = "bill.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def expected_expenses(rows: list[dict[str, Any]]) -> dict[tuple[str, date, str], float]:
    totals: dict[tuple[str, date, str], float] = defaultdict(float)
    kinds = {"AWS": "aws_cnr", "Microsoft": "azure_cnr", "Google Cloud": "gcp_cnr"}
    for row in rows:
        account = account_id(ORG, kinds[row["ProviderName"]], row["SubAccountId"])
        item = (
            resource_id(account, row["ResourceId"])
            if row["ResourceId"]
            else account_level_id(account, row["ServiceName"], None)
        )
        day = pd.Timestamp(row["ChargePeriodStart"]).tz_convert("UTC").date()
        totals[(account, day, item)] += float(row["BilledCost"])
    return dict(totals)


def database(settings: Settings) -> Any:
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


def test_csv_bill_becomes_accounts_resources_and_daily_expenses(
    settings: Settings, tmp_path: Path
) -> None:
    summary = import_bill(settings, ORG, write_csv(tmp_path, ROWS))

    assert live_expenses(settings) == pytest.approx(expected_expenses(ROWS))
    assert summary.cost == pytest.approx(sum(float(row["BilledCost"]) for row in ROWS))
    assert (summary.accounts, summary.new_accounts) == (3, 3)
    assert (summary.resources, summary.new_resources) == (4, 4)
    assert summary.account_days == 4
    db = database(settings)
    accounts = {a["_id"]: a for a in db.cloud_accounts.find()}
    aws = account_id(ORG, "aws_cnr", "111111111111")
    azure = account_id(ORG, "azure_cnr", "sub-9")
    gcp = account_id(ORG, "gcp_cnr", "proj-1")
    assert {a: (accounts[a]["type"], accounts[a]["name"]) for a in accounts} == {
        aws: ("aws_cnr", "prod"),
        azure: ("azure_cnr", "sub-9"),
        gcp: ("gcp_cnr", "Project One"),
    }
    assert all(a["organization_id"] == ORG and a["deleted_at"] == 0 for a in accounts.values())
    node = db.resources.find_one({"_id": resource_id(aws, ARN)})
    assert node["cloud_resource_id"] == ARN
    assert (node["name"], node["resource_type"], node["service_name"]) == (
        "node-a",
        "Instance",
        "AmazonEC2",
    )
    assert node["region"] == "us-east-1"
    assert node["tags"] == {"team": "shop", "env": "prod"}
    assert node["first_seen"] == day_start_epoch(date(2024, 3, 1))
    assert node["last_seen"] == day_start_epoch(date(2024, 3, 3)) - 1
    support = db.resources.find_one({"_id": account_level_id(aws, "AWS Support", None)})
    assert (support["name"], support["region"], support["resource_type"]) == (
        "AWS Support",
        None,
        "Other",
    )
    assert "cloud_resource_id" not in support
    assert support["meta"] == {"account_level": True, "charge_category": None}


def test_a_corrected_bill_restates_its_days(settings: Settings, tmp_path: Path) -> None:
    import_bill(settings, ORG, write_csv(tmp_path, ROWS))
    corrected = [{**row, "BilledCost": "7"} if i == 2 else row for i, row in enumerate(ROWS)]

    import_bill(settings, ORG, write_csv(tmp_path, corrected, "corrected.csv"))

    assert live_expenses(settings) == pytest.approx(expected_expenses(corrected))


def test_parquet_bill_loads_like_the_csv(settings: Settings, tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS)
    table = pa.table(
        {
            **{column: frame[column] for column in frame if column not in {"BilledCost", "Tags"}},
            "ChargePeriodStart": pd.to_datetime(frame["ChargePeriodStart"], utc=True),
            "BilledCost": frame["BilledCost"].astype(float),
            "Tags": pa.array(
                [list(json.loads(t or "{}").items()) for t in frame["Tags"]],
                type=pa.map_(pa.string(), pa.string()),
            ),
        }
    )
    path = tmp_path / "bill.parquet"
    pq.write_table(table, path)

    import_bill(settings, ORG, path)

    assert live_expenses(settings) == pytest.approx(expected_expenses(ROWS))
    aws = account_id(ORG, "aws_cnr", "111111111111")
    node = database(settings).resources.find_one({"_id": resource_id(aws, ARN)})
    assert node["tags"] == {"team": "shop", "env": "prod"}


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({1: {"BilledCost": "abc"}}, ["line 3", "column BilledCost", "'abc'"]),
        ({0: {"BilledCost": ""}}, ["line 2", "column BilledCost"]),
        ({4: {"ChargePeriodStart": "yesterday"}}, ["line 6", "column ChargePeriodStart"]),
        ({2: {"ChargePeriodStart": "1969-12-31T00:00:00Z"}}, ["line 4", "ChargePeriodStart"]),
        ({5: {"SubAccountId": ""}}, ["line 7", "column SubAccountId"]),
        ({0: {"Tags": "{not json"}}, ["line 2", "column Tags"]),
        ({0: {"Tags": "[1, 2]"}}, ["line 2", "column Tags", "JSON object"]),
        ({1: {"BillingCurrency": "EUR"}}, ["line 3", "column BillingCurrency", "USD"]),
        (
            {1: {"BilledCost": "x"}, 4: {"ChargePeriodStart": ""}},
            ["2 problem(s)", "line 3, column BilledCost", "line 6, column ChargePeriodStart"],
        ),
    ],
)
def test_a_malformed_bill_names_line_and_column_and_loads_nothing(
    settings: Settings, tmp_path: Path, changes: dict[int, dict[str, str]], fragments: list[str]
) -> None:
    import_bill(settings, "org-other", write_csv(tmp_path, ROWS[:1], "other.csv"))
    before = snapshot(settings)
    rows = [{**row, **changes.get(i, {})} for i, row in enumerate(ROWS)]

    with pytest.raises(MalformedBillError) as raised:
        import_bill(settings, ORG, write_csv(tmp_path, rows))

    for fragment in fragments:
        assert fragment in str(raised.value)
    assert snapshot(settings) == before


def test_a_file_without_a_required_column_is_rejected(settings: Settings, tmp_path: Path) -> None:
    rows = [{k: v for k, v in row.items() if k != "BilledCost"} for row in ROWS]
    with pytest.raises(MalformedBillError, match=r"missing FOCUS column.*BilledCost"):
        import_bill(settings, ORG, write_csv(tmp_path, rows))


def test_a_file_that_is_no_table_is_rejected(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bill.parquet"
    path.write_bytes(b"\x00not parquet")
    with pytest.raises(MalformedBillError, match="not a readable"):
        import_bill(settings, ORG, path)


def test_imported_node_vm_is_folded_into_its_cluster_in_the_api(
    settings: Settings, tmp_path: Path
) -> None:
    """End to end: the bill's node VM meets the cluster that lists its provider id."""
    import_bill(settings, ORG, write_csv(tmp_path, ROWS))
    db = database(settings)
    account = registry.add_account(db, ORG, "prod-cluster", "acc-k8s")
    cluster = registry.record_cluster_seen(
        db, account, date(2024, 3, 1), {"name": "prod"}, ["aws:///us-east-1a/i-0node"]
    )["_id"]
    with connect(settings.clickhouse_dsn) as client:
        client.insert(
            "expenses",
            [["acc-k8s", cluster, pd.Timestamp("2024-03-01", tz="UTC").to_pydatetime(), 50.0, 1]],
            column_names=["cloud_account_id", "resource_id", "date", "cost", "sign"],
        )
    token = issue_token(db, ORG)

    body = (
        create_app(settings)
        .test_client()
        .get(
            f"/restapi/v2/organizations/{ORG}/clean_expenses",
            query_string={"start_date": 0, "end_date": day_start_epoch(date(2024, 3, 2))},
            headers={"Authorization": f"Bearer {token}"},
        )
        .get_json()
    )

    aws = account_id(ORG, "aws_cnr", "111111111111")
    node = resource_id(aws, ARN)
    items = {item["resource_id"]: item for item in body["clean_expenses"]}
    # Day 1 of the node (1.25 + 0.75) is inside the cluster's cost; day 2 (3.0) is not.
    assert items[cluster]["cost"] == pytest.approx(50.0)
    assert [n["resource_id"] for n in items[cluster]["billed_nodes"]] == [node]
    assert items[cluster]["billed_nodes"][0]["cost"] == pytest.approx(2.0)
    assert items[node]["cost"] == pytest.approx(3.0)
    assert items[node]["k8s_cluster_id"] == cluster
    bill_total = sum(float(row["BilledCost"]) for row in ROWS)
    assert body["total_cost"] == pytest.approx(50.0 + bill_total - 2.0)


def test_tag_keys_with_dots_are_imported_and_merged(settings: Settings, tmp_path: Path) -> None:
    """EKS tags its nodes `kubernetes.io/cluster/<name>`: a key with dots, imported, then
    merged with the next bill's tags of the same resource."""
    eks = {"kubernetes.io/cluster/prod": "owned", "team": "shop"}
    first = [{**ROWS[0], "Tags": json.dumps(eks)}]
    later = [{**ROWS[0], "Tags": json.dumps({"karpenter.sh/nodepool": "default"})}]
    import_bill(settings, ORG, write_csv(tmp_path, first))
    import_bill(settings, ORG, write_csv(tmp_path, later, "later.csv"))
    aws = account_id(ORG, "aws_cnr", "111111111111")
    node = database(settings).resources.find_one({"_id": resource_id(aws, ARN)})
    assert node["tags"] == {**eks, "karpenter.sh/nodepool": "default"}
