"""clean_expenses rendered: the JSON body from bytes, the item dicts, the CSV, the schema.

The API renders items two ways (api/render/answer.py): dicts for CSV, and bytes
joined without a loop over items for JSON. Whatever the places of clusters and of
rows without a resource document, both must give the same items, and their keys are
exactly the fields of the schema that documents them (api/render/schemas.py).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow as pa
import pytest

from api.catalog.catalog import Catalog
from api.render.answer import CleanExpenses
from api.render.clusterparts import RECONCILED_COLUMNS, SHARED_PARTS, Clusters
from api.render.csvfile import COLUMNS, csv_response
from api.render.schemas import (
    BilledNodeSchema,
    CleanExpenseK8sCostsSchema,
    CleanExpenseSchema,
    ReconciliationSchema,
    SharedPartsSchema,
)
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
        "service_name": "AmazonEC2",
        "name": 'a "quoted", comma\nname',
        "region": "us-east-1",
        "first_seen": 1,
        "last_seen": 2,
        "created_at": 3,
        "deleted_at": 0,
        "tags": {"team": "x,y"},
        "meta": {"instance_type": "m5.large"},
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


# cl-1's node-days, nodes, volume-days, volumes, list and bill; cl-2 has none matched.
RECONCILED, NOTHING = (3, 2, 4, 1, 1.5, 0.25), (0, 0, 0, 0, 0.0, 0.0)


def clusters_of(resource_ids: list[str], costs: list[float]) -> Clusters:
    """The clusters among the items: cl-1 with two billed nodes, cl-2 with none."""
    positions = [at for at, rid in enumerate(resource_ids) if rid.startswith("cl-")]
    return Clusters.from_lists(
        positions,
        [{name: costs[at] / len(COMPONENTS) for name in COMPONENTS} for at in positions],
        [NODES if resource_ids[at] == "cl-1" else [] for at in positions],
        [
            dict(zip(RECONCILED_COLUMNS, RECONCILED if rid == "cl-1" else NOTHING, strict=True))
            for rid in (resource_ids[at] for at in positions)
        ],
        "effective",
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


def _mixed_answer() -> CleanExpenses:
    """Two clusters (cl-1 with two billed nodes), a bill VM and an orphan, unordered."""
    return _answer(["cl-2", "vm-1", "cl-1", "orphan"], [50.0, 40.0, 30.0, 60.0])


@pytest.mark.parametrize("indices", [[3, 0, 1, 2], [2, 0], [2], [1, 3], []])
def test_taking_items_keeps_each_with_its_clusters_parts(indices: list[int]) -> None:
    answer = _mixed_answer()
    every = answer.items()

    taken = answer.take(np.array(indices, np.int64))

    assert taken.items() == [every[at] for at in indices]
    assert (taken.total_count, taken.total_cost) == (4, 180.0)
    body = json.loads(taken.json_body({"total_count": 4}))
    assert body["clean_expenses"] == [every[at] for at in indices]


def test_shared_parts_render_alike_as_json_and_dicts() -> None:
    answer = _mixed_answer()
    # cl-2 (cluster 0) received parts; cl-1 (cluster 1) had no rows to share.
    parts = {"idle": 1.5, "namespaces": 0.25, "overhead": 24.0}
    shared = pa.table({name: pa.array([parts[name], None], pa.float64()) for name in SHARED_PARTS})
    answer.clusters = Clusters(**{**answer.clusters.__dict__, "shared": shared})

    items = json.loads(answer.json_body({"total_count": 4}))["clean_expenses"]

    assert items == answer.items()
    assert items[0]["shared"] == parts
    assert "shared" not in items[2] and "k8s_costs" in items[2]
    assert set(items[0]["shared"]) == set(SharedPartsSchema().fields)
    assert json.loads(answer.take(np.array([2, 0])).json_body({}))["clean_expenses"] == [
        items[2],
        items[0],
    ]


def test_an_empty_answer_is_its_totals_and_no_item() -> None:
    body = json.loads(CleanExpenses.empty().json_body({"total_count": 0}))

    assert body == {"total_count": 0, "clean_expenses": []}


def _answer(resource_ids: list[str], costs: list[float]) -> CleanExpenses:
    """Every item of `resource_ids` with its cost, the clusters' parts from clusters_of."""
    return CleanExpenses(
        resource_ids,
        ["k8s-1" if rid.startswith("cl-") else "aws-1" for rid in resource_ids],
        costs,
        total_count=len(costs),
        total_cost=sum(costs),
        clusters=clusters_of(resource_ids, costs),
        catalog=Catalog(ACCOUNTS, RESOURCES, built_at=0.0),
    )


def _full_answer() -> CleanExpenses:
    """A cluster with billed nodes, the node VM it folds, a bare resource and an orphan."""
    return _answer(["cl-1", "vm-1", "vm-2", "orphan"], [30.0, 2.5, 0.5, 0.1])


def test_rendered_item_keys_are_the_schema_fields() -> None:
    body = json.loads(_full_answer().json_body({"total_count": 4}))
    # `shared` only with sharing (test_shared_parts_render_alike_as_json_and_dicts).
    schema_fields = set(CleanExpenseSchema().fields) - {"shared"}
    items = body["clean_expenses"]

    assert set().union(*(item.keys() for item in items)) == schema_fields
    cluster, node = items[0], items[1]
    assert set(cluster["k8s_costs"]) == set(CleanExpenseK8sCostsSchema().fields)
    assert {key for billed in cluster["billed_nodes"] for key in billed} == set(
        BilledNodeSchema().fields
    )
    # Every field but the cluster-only ones is shown on a fully described bill resource.
    assert set(node) == schema_fields - {"k8s_costs", "billed_nodes", "reconciliation"}
    assert cluster["reconciliation"] == {
        "cost_metric": "effective",
        "matched_node_days": 3,
        "matched_nodes": 2,
        "matched_volume_days": 4,
        "matched_volumes": 1,
        "list_cost": 1.5,
        "bill_cost": 0.25,
        "adjustment": 0.25 - 1.5,
    }
    for item in items:
        assert {"id", "resource_id", "cloud_account_id", "cost"} <= item.keys() <= schema_fields


def test_csv_columns_are_schema_fields_flattened() -> None:
    answer = _full_answer()
    body = {"total_count": 4, "total_cost": answer.total_cost, "clean_expenses": answer.items()}
    response = csv_response(body, "x.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    flattened = set(CleanExpenseSchema().fields) | set(CleanExpenseK8sCostsSchema().fields)

    reconciliation = {f"reconciliation_{name}" for name in ReconciliationSchema().fields}
    assert set(COLUMNS) - {"billed_nodes_cost"} - reconciliation <= flattened
    assert reconciliation - {"reconciliation_cost_metric"} <= set(COLUMNS)
    assert [float(row["cost"]) for row in rows] == [30.0, 2.5, 0.5, 0.1]
    assert float(rows[0]["billed_nodes_cost"]) == pytest.approx(0.3)
    # cl-1 (RECONCILED): 3 node-days of 2 nodes, 4 volume-days of 1 PV, list 1.5, bill 0.25
    assert [
        rows[0][f"reconciliation_{name}"] for name in ("matched_node_days", "matched_volumes")
    ] == ["3", "1"]
    assert float(rows[0]["reconciliation_adjustment"]) == 0.25 - 1.5
    assert rows[1]["reconciliation_adjustment"] == ""
