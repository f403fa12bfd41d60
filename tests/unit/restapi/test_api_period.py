"""clean_expenses over a period: restated days, items' fields, organizations, sort and limit."""

from __future__ import annotations

from typing import Any

import pytest

from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from tests.api_data import (
    BREAKDOWN_COLUMNS,
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    day,
    ids,
    write_breakdown,
    write_cost,
    write_costs,
)

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
