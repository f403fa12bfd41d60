"""Cluster nodes that also appear in a cloud bill are counted once, in their cluster."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from api.routes.bills import BillsSchema
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage.nodes import instance_key
from tests.api_data import (
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    day,
    ids,
    write_cost,
    write_costs,
)

BILLS_URL = "/restapi/v2/organizations/{org}/bills"
CLUSTER_KEYS = ("resource_id", "cloud_account_id", "billed_nodes", "reconciliation")


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


@pytest.mark.parametrize("last_day", [2, 3])
def test_the_bills_answer_has_each_cluster_s_billed_nodes_as_clean_expenses(
    settings: Settings, api: Api, node_org: dict[str, str], last_day: int
) -> None:
    """The bills' folded nodes and reconciliations are clean_expenses' `billed_nodes` and
    `reconciliation` for the same period (after a restatement too), and no cluster
    without either is listed."""
    write_costs(settings, "aws-1", 1, {"node-vm": 5.0, "other-vm": 100.0})
    end = day_start_epoch(day(last_day))
    listed = api.expenses("org-1", 0, end)["clean_expenses"]
    expected = [
        {key: item.get(key) for key in CLUSTER_KEYS}
        for item in listed
        if item.get("billed_nodes") or item.get("reconciliation")
    ]
    response = api.get("org-1", {"start_date": 0, "end_date": end}, BILLS_URL)
    assert response.status_code == 200, response.get_json()
    clusters = response.get_json()["clusters"]
    assert [{key: cluster.get(key) for key in CLUSTER_KEYS} for cluster in clusters] == expected
    # Encoded without marshmallow (api/routes/bills.py): exactly what its dump would give,
    # no field more, none of another type (an int where a float belongs reads `0`, not `0.0`).
    document = response.get_json()
    dumped = BillsSchema().dump(document)
    assert json.dumps(dumped, sort_keys=True) == json.dumps(document, sort_keys=True)
    assert expected[0]["billed_nodes"][0]["cost"] == pytest.approx(5.0 + 2.0)
