"""The join behind `clean_expenses`: resources from MongoDB, their costs from ClickHouse.

MongoDB decides *which* resources an organization may see (its live cloud
accounts and their resources; later filters such as region or tags narrow this
set), ClickHouse only sums costs for those ids, and the two are joined here.
Only find with `$in` and projections is used on MongoDB, which montydb supports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from etl import sqlfiles
from etl.clickhouse import connect
from etl.config import Settings
from etl.costs import COMPONENTS
from etl.registry import K8S_CLUSTER_RESOURCE_TYPE, open_database

RESOURCE_FIELDS = (
    "cloud_account_id",
    "cloud_resource_id",
    "resource_type",
    "service_name",
    "name",
    "region",
    "first_seen",
    "last_seen",
    "created_at",
    "deleted_at",
    "tags",
    "meta",
)


@dataclass(frozen=True)
class Period:
    """Unix seconds; a day counts when its midnight-UTC row date lies in [start, end]."""

    start: int
    end: int


def _live_accounts(
    db: Any, organization_id: str, cloud_account_ids: Iterable[str] | None
) -> dict[str, dict[str, Any]]:
    """The organization's live accounts (optionally only some); never their config/secrets."""
    query: dict[str, Any] = {"organization_id": organization_id, "deleted_at": 0}
    if cloud_account_ids:
        query["_id"] = {"$in": list(cloud_account_ids)}
    found = db.cloud_accounts.find(query, {"name": 1, "type": 1})
    return {account["_id"]: account for account in found}


def _resources(db: Any, account_ids: list[str]) -> dict[str, dict[str, Any]]:
    projection = dict.fromkeys(RESOURCE_FIELDS, 1)
    found = db.resources.find({"cloud_account_id": {"$in": account_ids}}, projection)
    return {resource["_id"]: resource for resource in found}


def _period_sums(
    settings: Settings,
    account_ids: list[str],
    resources: dict[str, dict[str, Any]],
    period: Period,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(cost per resource id, K8s breakdown per cluster id) over the period."""
    cluster_ids = [
        resource_id
        for resource_id, resource in resources.items()
        if resource.get("resource_type") == K8S_CLUSTER_RESOURCE_TYPE
    ]
    parameters: dict[str, Any] = {
        "cloud_account_ids": account_ids,
        "resource_ids": list(resources),
        "start_date": period.start,
        "end_date": period.end,
    }
    breakdowns: dict[str, dict[str, float]] = {}
    with connect(settings.clickhouse_dsn) as client:
        costs = {
            row["resource_id"]: row["cost"]
            for row in client.query(
                sqlfiles.query("clean_expenses_costs"), parameters=parameters
            ).named_results()
        }
        if cluster_ids:
            rows = client.query(
                sqlfiles.query("clean_expenses_k8s_costs"),
                parameters={**parameters, "resource_ids": cluster_ids},
            ).named_results()
            breakdowns = {
                row["resource_id"]: {column: row[column] for column in COMPONENTS} for row in rows
            }
    return costs, breakdowns


def _item(
    resource_id: str,
    resource: dict[str, Any],
    account: dict[str, Any],
    cost: float,
    breakdown: dict[str, float] | None,
) -> dict[str, Any]:
    fields = {key: value for key, value in resource.items() if key != "_id"}
    item = {
        **fields,
        "id": resource_id,
        "resource_id": resource_id,
        "resource_name": resource.get("name"),
        "cost": cost,
        "cloud_account_name": account.get("name"),
        "cloud_account_type": account.get("type"),
    }
    if resource.get("resource_type") == K8S_CLUSTER_RESOURCE_TYPE:
        item["k8s_costs"] = breakdown or dict.fromkeys(COMPONENTS, 0.0)
    return item


def find_clean_expenses(
    settings: Settings,
    organization_id: str,
    period: Period,
    cloud_account_ids: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """The organization's resources that have cost in the period, most expensive first."""
    db = open_database(settings.mongo_uri, settings.mongo_db)
    accounts = _live_accounts(db, organization_id, cloud_account_ids)
    if not accounts:
        return []
    account_ids = sorted(accounts)
    resources = _resources(db, account_ids)
    if not resources:
        return []
    costs, breakdowns = _period_sums(settings, account_ids, resources, period)
    items = [
        _item(
            resource_id,
            resources[resource_id],
            accounts[resources[resource_id]["cloud_account_id"]],
            cost,
            breakdowns.get(resource_id),
        )
        for resource_id, cost in costs.items()
    ]
    return sorted(items, key=lambda item: (-item["cost"], item["resource_id"]))
