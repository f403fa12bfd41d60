"""What the API tests write and how they ask: documents, costs, an authenticated client.

Data is written with the pipeline's own functions (registry, warehouse) or as the
documents the importers write, and every expected figure is computed by the tests
from what was written. The fixtures that use these are in tests/unit/restapi/conftest.py.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from flask.testing import FlaskClient

from api import auth
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


def write_allocation(settings: Settings, account_id: str, n: int, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    for column in BREAKDOWN_COLUMNS:
        frame[column] = frame[column].fillna(0.0) if column in frame else 0.0
    frame["cost"] = frame[BREAKDOWN_COLUMNS].sum(axis=1)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.restate_day(client, "k8s_allocation", account_id, day(n), frame)


def allocation_row(
    rid: str,
    namespace: str,
    node: str,
    labels: dict,
    namespace_labels: dict | None = None,
    **costs: float,
) -> dict[str, Any]:
    """A k8s_allocation row as etl/costmodel/allocation writes it: a pod's (a Deployment's,
    uid `uid-<rid>`), or an `__idle__` (per node) or `__unmounted__` (a PV) row."""
    special = namespace.startswith("__")
    return {
        "resource_id": rid,
        "namespace": namespace,
        "pod": (namespace if node else f"persistentvolume/pv-{rid}") if special else f"pod-{rid}",
        "pod_uid": "" if special else f"uid-{rid}",
        "controller_kind": "" if special else "Deployment",
        "controller": namespace if special else f"ctl-{rid}",
        "node": node,
        "labels": labels,
        "namespace_labels": namespace_labels or {},
        "services": [],
        **costs,
    }
