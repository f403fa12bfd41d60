"""The JSON body of clean_expenses, assembled from bytes, says what the item dicts say.

The API renders items two ways (api/clean_expenses.py): dicts for CSV, and bytes
joined without a loop over items for JSON. Whatever the places of clusters and of
rows without a resource document, both must give the same items.
"""

from __future__ import annotations

import json

import pytest

from api.catalog import Catalog
from api.clean_expenses import CleanExpenses
from api.clusterparts import Clusters
from etl.costmodel.assets import COMPONENTS
from etl.storage.registry import K8S_ACCOUNT_TYPE, K8S_CLUSTER_RESOURCE_TYPE

ACCOUNTS = {
    "aws-1": {"name": "bills", "type": "aws_cnr"},
    "k8s-1": {"name": "cluster account", "type": K8S_ACCOUNT_TYPE},
}
RESOURCES = {
    "vm-1": {
        "cloud_account_id": "aws-1",
        "cloud_resource_id": "arn:aws:ec2:us-east-1:1:instance/i-01",
        "resource_type": "Instance",
        "name": 'a "quoted", comma\nname',
        "tags": {"team": "x,y"},
    },
    "vm-2": {"cloud_account_id": "aws-1", "resource_type": "Volume", "name": "disk"},
    "cl-1": {
        "cloud_account_id": "k8s-1",
        "resource_type": K8S_CLUSTER_RESOURCE_TYPE,
        "name": "prod",
        "meta": {"node_provider_ids": ["aws:///us-east-1a/i-01"]},
    },
    "cl-2": {
        "cloud_account_id": "k8s-1",
        "resource_type": K8S_CLUSTER_RESOURCE_TYPE,
        "name": "dev",
    },
}
NODES = [("vm-1", "aws-1", 0.1), ("unknown-node", "aws-1", 0.2)]


def clusters_of(resource_ids: list[str], costs: list[float]) -> Clusters:
    """The clusters among the items: cl-1 with two billed nodes, cl-2 with none."""
    positions = [at for at, rid in enumerate(resource_ids) if rid.startswith("cl-")]
    return Clusters.from_lists(
        positions,
        [{name: costs[at] / len(COMPONENTS) for name in COMPONENTS} for at in positions],
        [NODES if resource_ids[at] == "cl-1" else [] for at in positions],
    )


@pytest.mark.parametrize(
    ("resource_ids", "costs"),
    [
        (["cl-1"], [30.0]),
        (["cl-1", "vm-1", "orphan", "vm-2"], [30.0, 2.5, 1e-7, -0.5]),
        (["vm-1", "cl-1", "vm-2"], [40.0, 30.0, 0.1]),
        (["orphan", "vm-2", "cl-1"], [99.0, 31.0, 30.0]),
        (["cl-2", "vm-1", "cl-1"], [50.0, 40.0, 30.0]),
    ],
)
def test_json_body_holds_the_same_items_as_the_dicts(
    resource_ids: list[str], costs: list[float]
) -> None:
    catalog = Catalog(ACCOUNTS, RESOURCES, built_at=0.0)
    accounts = [
        RESOURCES.get(rid, {"cloud_account_id": "aws-1"})["cloud_account_id"]
        for rid in resource_ids
    ]
    position = resource_ids.index("cl-1")
    answer = CleanExpenses(
        resource_ids,
        accounts,
        costs,
        total_count=len(costs),
        total_cost=sum(costs),
        clusters=clusters_of(resource_ids, costs),
        catalog=catalog,
    )
    totals = {"total_count": len(costs), "total_cost": sum(costs)}

    body = json.loads(answer.json_body(totals))

    assert body == {**totals, "clean_expenses": answer.items()}
    assert [item["cost"] for item in body["clean_expenses"]] == costs
    assert body["clean_expenses"][position]["billed_nodes"] == [
        {
            "resource_id": "vm-1",
            "cloud_resource_id": RESOURCES["vm-1"]["cloud_resource_id"],
            "cloud_account_id": "aws-1",
            "name": RESOURCES["vm-1"]["name"],
            "cost": 0.1,
        },
        {
            "resource_id": "unknown-node",
            "cloud_resource_id": None,
            "cloud_account_id": "aws-1",
            "name": None,
            "cost": 0.2,
        },
    ]
    if "cl-2" in resource_ids:
        dev = body["clean_expenses"][resource_ids.index("cl-2")]
        assert dev["billed_nodes"] == []
        assert sum(dev["k8s_costs"].values()) == pytest.approx(dev["cost"])


def test_an_empty_answer_is_its_totals_and_no_item() -> None:
    body = json.loads(CleanExpenses.empty().json_body({"total_count": 0}))

    assert body == {"total_count": 0, "clean_expenses": []}
