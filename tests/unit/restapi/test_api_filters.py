"""clean_expenses' filters: attributes and tags from the catalog, allocation filters from SQL."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import warehouse
from etl.storage.clickhouse import connect
from tests.api_data import (
    BREAKDOWN_COLUMNS,
    CATALOG,
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    day,
    ids,
    write_cost,
)

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
