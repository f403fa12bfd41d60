"""Issue #26, findings 3 and 6 on the API: money the API takes is finite and bounded, no
answer carries a non-finite number (nor a null in its place), dates out of the stores'
range are 400 problems.

Figures are computed here from what the tests write.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest

from api.routes import bills as bills_route
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import budgets as budget_store
from etl.storage import warehouse
from etl.storage.clickhouse import connect
from tests.api_data import Api, add_cloud_account, assert_problem, day, write_cost

ORG = "org-1"
BUDGETS = f"/restapi/v2/organizations/{ORG}/budgets"
BREAKDOWN = f"/restapi/v2/organizations/{ORG}/breakdown_expenses"
PERIOD = {"start_date": day_start_epoch(day(1)), "end_date": day_start_epoch(day(2))}


def strict_json(response: Any) -> Any:
    """The body as JSON that `JSON.parse` takes: no NaN, Infinity or -Infinity."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in {response.get_data(as_text=True)[:200]}")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def post_budget(api: Api, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return api.client.post(
        BUDGETS, data=data, content_type="application/json", headers=api.headers(ORG)
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "b", "scope": "organization", "amount_usd": 1e308},
        {"name": "b", "scope": "organization", "amount_usd": 1e12 + 1},
        '{"name": "b", "scope": "organization", "amount_usd": Infinity}',
        '{"name": "b", "scope": "organization", "amount_usd": NaN}',
        {"name": "b", "scope": "organization", "amount_usd": 10, "thresholds": [1e308]},
    ],
)
def test_a_budget_beyond_the_money_bound_is_a_400_problem(api: Api, body: Any) -> None:
    problem = assert_problem(post_budget(api, body), 400)

    assert problem["errors"] in (
        {"amount_usd": ["must be > 0 and <= 1e12 USD"]},
        {"amount_usd": ["Special numeric values (nan or infinity) are not permitted."]},
        {"thresholds.0": ["Must be greater than 0 and less than or equal to 1000.0."]},
    )
    assert api.client.get(BUDGETS, headers=api.headers(ORG)).get_json()["total_count"] == 0


def test_a_budget_at_the_bound_is_taken_and_answered_finite(api: Api) -> None:
    response = post_budget(
        api, {"name": "b", "scope": "organization", "amount_usd": 1e12, "thresholds": [1000]}
    )

    assert response.status_code == 201, response.get_json()
    threshold = strict_json(response)["status"]["thresholds"][0]
    assert threshold["amount_usd"] == 1e12 * 1000 / 100


def test_sharing_overhead_beyond_the_bound_is_a_400_problem(api: Api, db: Any) -> None:
    add_cloud_account(db, ORG, "aws-1")
    url = f"/restapi/v2/organizations/{ORG}/clean_expenses"

    problem = assert_problem(api.get(ORG, {**PERIOD, "shared_overhead_hourly": 2e12}, url), 400)

    assert "1e12 USD" in problem["errors"]["shared_overhead_hourly"][0]


def stored_before_the_bound(settings: Settings, db: Any) -> str:
    """Two accounts with a cost of 1e308 each (what an import took before the bound),
    and an organization budget; its id."""
    for account in ("aws-1", "aws-2"):
        add_cloud_account(db, ORG, account)
        write_cost(settings, account, f"{account}-vm", 1, 1e308)
    return budget_store.add_budget(db, ORG, "b", "organization", 10.0)["_id"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("clean_expenses", PERIOD),
        ("clean_expenses", {**PERIOD, "format": "csv"}),
        ("clean_expenses", {**PERIOD, "limit": 1}),
        ("breakdown_expenses", {**PERIOD, "breakdown_by": "service_name"}),
        ("budgets", {"as_of": day(1).isoformat()}),
        ("budgets/{budget}", {"as_of": day(1).isoformat()}),
    ],
)
def test_a_sum_beyond_a_double_is_a_500_problem_never_infinity_or_null(
    api: Api, settings: Settings, db: Any, path: str, query: dict[str, Any]
) -> None:
    budget = stored_before_the_bound(settings, db)

    response = api.get(ORG, query, f"/restapi/v2/organizations/{ORG}/{path}".format(budget=budget))

    problem = assert_problem(response, 500)
    strict_json(response)
    assert "not a finite number" in problem["detail"]
    assert "X-Total-Cost" not in response.headers


def test_a_bill_total_beyond_a_double_is_a_500_problem(api: Api, monkeypatch) -> None:
    """The bills answer is encoded without marshmallow's dump, through the app's JSON all
    the same: a total that is no finite number is a problem, never `Infinity`."""
    answer = {"billing_periods": [], "bills": [], "clusters": []}
    totals = {"billed_cost": float("inf"), "effective_cost": 0.0, "list_cost": 0.0}
    monkeypatch.setattr(bills_route, "find_bills", lambda *_: {**answer, "totals": totals})

    response = api.get(ORG, PERIOD, f"/restapi/v2/organizations/{ORG}/bills")

    problem = assert_problem(response, 500)
    strict_json(response)
    assert "not a finite number" in problem["detail"]


def test_costs_at_the_bound_sum_exactly(api: Api, settings: Settings, db: Any) -> None:
    for account in ("aws-1", "aws-2"):
        add_cloud_account(db, ORG, account)
        for n in (1, 2):
            write_cost(settings, account, f"{account}-vm", n, 1e12)

    body = strict_json(api.get(ORG, PERIOD, f"/restapi/v2/organizations/{ORG}/clean_expenses"))
    csv = api.get(ORG, {**PERIOD, "format": "csv"})

    assert body["total_cost"] == 4e12
    assert [item["cost"] for item in body["clean_expenses"]] == [2e12, 2e12]
    assert float(csv.headers["X-Total-Cost"]) == 4e12


# Finding 6: dates out of range.


@pytest.mark.parametrize("as_of", ["1969-12-31", "0001-01-01", "9999-12-31", "2106-02-07"])
def test_an_as_of_the_stores_cannot_hold_is_a_400_problem(api: Api, db: Any, as_of: str) -> None:
    add_cloud_account(db, ORG, "aws-1")
    budget = post_budget(api, {"name": "b", "scope": "organization", "amount_usd": 10})
    assert budget.status_code == 201

    for path in (BUDGETS, f"{BUDGETS}/{budget.get_json()['id']}"):
        problem = assert_problem(api.get(ORG, {"as_of": as_of}, path), 400)
        assert problem["errors"]["as_of"] == ["must be a day from 1970-01-01 to 2106-02-06 (UTC)"]


def test_the_first_day_the_stores_hold_is_an_as_of_like_any(
    api: Api, settings: Settings, db: Any
) -> None:
    add_cloud_account(db, ORG, "aws-1")
    first = date(1970, 1, 1)
    with connect(settings.clickhouse_dsn) as client:
        frame = pd.DataFrame({"resource_id": ["vm"], "cost": [7.0]})
        warehouse.restate_day(client, "expenses", "aws-1", first, frame)
    assert (
        post_budget(api, {"name": "b", "scope": "organization", "amount_usd": 10}).status_code
        == 201
    )

    status = api.get(ORG, {"as_of": "1970-01-01"}, BUDGETS).get_json()["budgets"][0]["status"]

    assert status["month_to_date_usd"] == 7.0
    assert status["trend_daily_usd"] == 7.0 / 7  # the 6 days before 1970 count $0
    assert status["days_left"] == 30
