"""k8s_costs' `step`: each group's cost per day, week or month (the explorer's chart).

The days written straddle weeks and a month's end (2024-03-01 is a Friday): the buckets
are checked against sums of the written rows, and, with sharing, against k8s_costs
asked about each day alone (sharing is spread per cluster-day, so both must agree).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from etl.core.days import day_start_epoch
from tests import api_data
from tests.api_data import Api, add_cluster, allocation_row, day

K8S_COSTS = "/restapi/v2/organizations/{org}/k8s_costs"
DAYS = [1, 3, 4, 31, 32]  # Fri 1 Mar, Sun 3, Mon 4, Sun 31, Mon 1 Apr 2024


def rows(n: int) -> list[dict[str, Any]]:
    """Day n's allocation: costs grow with n so that days differ."""
    return [
        allocation_row("web", "shop", "n1", {"team": "a"}, cpu_cost=2.0 * n, ram_cost=1.0),
        allocation_row("api", "shop", "n2", {"team": "b"}, cpu_cost=1.0, ram_cost=0.5 * n),
        allocation_row("db", "data", "n1", {"team": "a"}, cpu_cost=0.75, pv_cost=1.5),
        allocation_row("dns", "kube-system", "n1", {}, cpu_cost=0.5, management_cost=0.125),
        allocation_row("i1", "__idle__", "n1", {}, cpu_cost=3.0, ram_cost=0.25 * n),
        allocation_row("u", "__unmounted__", "", {}, pv_cost=2.0),
    ]


@pytest.fixture
def org(settings, db) -> str:
    add_cluster(db, "org-1", "acc-1", DAYS)
    for n in DAYS:
        api_data.write_allocation(settings, "acc-1", n, rows(n))
    return "org-1"


def epoch(when: date) -> str:
    return str(day_start_epoch(when))


def k8s_costs(api: Api, first: int, last: int, **query: Any) -> dict[str, Any]:
    pairs = [
        ("start_date", day_start_epoch(day(first))),
        ("end_date", day_start_epoch(day(last))),
        *query.items(),
    ]
    response = api.get("org-1", pairs, path=K8S_COSTS)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def written(n: int) -> dict[str, float]:
    """The rows' cost per namespace on day n, summed here."""
    costs: dict[str, float] = defaultdict(float)
    for row in rows(n):
        costs[row["namespace"]] += sum(v for k, v in row.items() if k.endswith("_cost"))
    return dict(costs)


def summed(days: list[int]) -> dict[str, float]:
    costs: dict[str, float] = defaultdict(float)
    for n in days:
        for key, cost in written(n).items():
            costs[key] += cost
    return dict(costs)


def test_step_day_is_each_namespace_cost_per_day_and_the_groups_are_unchanged(api, org):
    plain = k8s_costs(api, 1, 32, group_by="namespace")
    body = k8s_costs(api, 1, 32, group_by="namespace", step="day")

    assert body["step"] == "day"
    assert body["series"] == {epoch(day(n)): pytest.approx(written(n), rel=1e-12) for n in DAYS}
    assert body["groups"] == plain["groups"]
    assert "series" not in plain


def test_weeks_start_on_monday_and_months_on_the_first_in_utc(api, org):
    weeks = k8s_costs(api, 1, 32, group_by="namespace", step="week")["series"]
    months = k8s_costs(api, 1, 32, group_by="namespace", step="month")["series"]

    assert weeks == {
        epoch(date(2024, 2, 26)): pytest.approx(summed([1, 3])),  # the Monday before 1 March
        epoch(date(2024, 3, 4)): pytest.approx(summed([4])),
        epoch(date(2024, 3, 25)): pytest.approx(summed([31])),
        epoch(date(2024, 4, 1)): pytest.approx(summed([32])),
    }
    assert months == {
        epoch(date(2024, 3, 1)): pytest.approx(summed([1, 3, 4, 31])),
        epoch(date(2024, 4, 1)): pytest.approx(summed([32])),
    }


@pytest.mark.parametrize(
    "sharing",
    [
        {"share_idle": "weighted"},
        {"share_idle": "even", "idle_by": "node"},
        {"share_namespaces": "kube-system", "share_split": "even"},
    ],
    ids=["idle-weighted", "idle-even-by-node", "namespace-even"],
)
def test_with_sharing_each_day_is_k8s_costs_of_that_day_alone(api, org, sharing):
    body = k8s_costs(api, 1, 32, group_by="label:team", step="day", **sharing)

    for n in DAYS:
        alone = k8s_costs(api, n, n, group_by="label:team", **sharing)
        expected = {group["key"]: group["cost"] for group in alone["groups"]}
        assert body["series"][epoch(day(n))] == pytest.approx(expected, rel=1e-12), n
    per_key: dict[str, float] = defaultdict(float)
    for bucket in body["series"].values():
        for key, cost in bucket.items():
            per_key[key] += cost
    assert per_key == pytest.approx({g["key"]: g["cost"] for g in body["groups"]}, rel=1e-12)


def test_with_limit_the_groups_left_out_add_up_under_other(api, org):
    body = k8s_costs(api, 1, 32, group_by="namespace", step="month", limit=2)

    kept = [group["key"] for group in body["groups"]]
    assert len(kept) == 2
    for bucket, days in ((date(2024, 3, 1), [1, 3, 4, 31]), (date(2024, 4, 1), [32])):
        costs = summed(days)
        expected = {key: costs[key] for key in kept}
        expected["__other__"] = sum(cost for key, cost in costs.items() if key not in kept)
        assert body["series"][epoch(bucket)] == pytest.approx(expected)


def test_an_unknown_step_is_a_400_problem(api, org):
    response = api.get(
        "org-1",
        {
            "start_date": day_start_epoch(day(1)),
            "end_date": day_start_epoch(day(3)),
            "step": "year",
        },
        path=K8S_COSTS,
    )
    problem = api_data.assert_problem(response, 400)
    assert "step" in str(problem)
