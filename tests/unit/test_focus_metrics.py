"""The cost metrics' FOCUS columns of a bill, stored on every expense row, and the day rule.

The fixture (tests/fixtures/focus/focus_1_2_commitments.csv, README beside it) is
written to the spec's commitment-discount examples: a reservation bought upfront,
a savings plan with a recurring fee and an unused hour, a spot node, a negotiated
on-demand node, literal NULLs, and a row billed in October for September 30. Every
expected figure is summed here with Decimal from the file's text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from etl.bills import (
    MalformedBillError,
    account_id,
    account_level_id,
    import_bill,
    resource_id,
    unused_commitment_id,
)
from etl.core.config import Settings
from etl.core.metrics import COST_COLUMNS
from etl.storage import registry, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from etl.storage.pricing import set_default_metric
from k8scost.cli import cli
from tests.focus_bill import (
    COMMITMENTS,
    NULL,
    ORG,
    Api,
    billed_by_charge_month,
    billed_by_period,
    charge_span,
    column_total,
    epoch,
    exact,
    focus_cost,
    month_bounds,
    period_query,
    rows,
    snapshot,
    write_csv,
    write_parquet,
)

FOCUS_COSTS = {
    "cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
}
ATTRIBUTES = (
    "ChargeCategory",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "CommitmentDiscountId",
)
METRIC_SOURCES = {"billed": "BilledCost", "effective": "EffectiveCost", "list": "ListCost"}


@pytest.fixture
def settings(tmp_path: Path, with_schema: Callable[[Settings], Settings]) -> Settings:
    """Stores with the warehouse's tables already (a copy, tests/conftest.py): an import
    into a fresh install is tests/unit/test_focus_import.py's."""
    return with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")}))


def bill() -> list[dict[str, str]]:
    return rows(COMMITMENTS)


def _row_id(row: dict[str, str]) -> str:
    account = account_id(ORG, "aws_cnr", row["SubAccountId"])
    if row["CommitmentDiscountStatus"] == "Unused":
        return unused_commitment_id(account, row["CommitmentDiscountId"])
    if row["ResourceId"] == NULL:
        return account_level_id(account, row["ServiceName"], row["ChargeCategory"])
    return resource_id(account, row["ResourceId"])


def expected_rows(lines: list[dict[str, str]]) -> dict[tuple[str, ...], dict[str, Decimal]]:
    """(resource, charge day, billing period, attributes '' for NULL) -> each cost; a NULL
    cost is the row's BilledCost (docs/api.md, "Cost metrics")."""
    expected: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(FOCUS_COSTS, Decimal(0))
    )
    for row in lines:
        key = (
            _row_id(row),
            row["ChargePeriodStart"][:10],
            row["BillingPeriodStart"][:10],
            *("" if row[column] == NULL else row[column] for column in ATTRIBUTES),
        )
        for name, column in FOCUS_COSTS.items():
            expected[key][name] += focus_cost(row, column)
    return dict(expected)


def stored_rows(settings: Settings) -> dict[tuple[str, ...], dict[str, Decimal]]:
    """The live expense rows, collapsed as readers collapse them, at the fixture's precision."""
    costs = ", ".join(f"sum({name} * sign)" for name in COST_COLUMNS)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.ensure_schema(client)
        found = client.query(
            "SELECT resource_id, toString(toDate(date)), toString(billing_period), charge_category,"
            " pricing_category, commitment_discount_status, commitment_discount_id,"
            f" {costs} FROM expenses GROUP BY ALL HAVING sum(sign) > 0"
        ).result_rows
    return {
        tuple(row[:7]): {
            name: exact(value) for name, value in zip(COST_COLUMNS, row[7:], strict=True)
        }
        for row in found
    }


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_every_row_keeps_its_four_costs_and_its_commitment(
    settings: Settings, tmp_path: Path, form: str
) -> None:
    """CSV as text; Parquet typed (decimal costs, NULL as a null) as providers export it."""
    write = write_csv if form == "csv" else write_parquet
    import_bill(settings, ORG, write(tmp_path / f"bill.{form}", bill()))

    assert stored_rows(settings) == expected_rows(bill())


def test_effective_cost_sums_to_the_bill_s_per_provider(settings: Settings, tmp_path: Path) -> None:
    """The FinOps Foundation sample's convention: Σ EffectiveCost per provider."""
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))

    effective = sum(focus_cost(row, "EffectiveCost") for row in bill())
    stored = sum(costs["effective_cost"] for costs in stored_rows(settings).values())
    assert stored == effective
    assert effective != sum(
        Decimal(row["BilledCost"]) for row in bill()
    )  # the fixture tells them apart


def test_a_row_billed_next_period_lands_on_its_charge_day(
    settings: Settings, tmp_path: Path
) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))
    api = Api(settings)

    for month, charged in billed_by_charge_month(bill()).items():
        assert exact(api.get(**period_query(*month_bounds(month)))["total_cost"]) == charged
    september_30 = [row for row in bill() if row["ChargePeriodStart"].startswith("2024-09-30")]
    assert [row["BillingPeriodStart"][:7] for row in september_30] == ["2024-10"]
    day = api.get(**period_query("2024-09-30T00:00:00+00:00", "2024-10-01T00:00:00+00:00"))
    assert exact(day["total_cost"]) == Decimal(september_30[0]["BilledCost"])


def test_billing_period_gives_exactly_each_invoice(settings: Settings, tmp_path: Path) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))
    api = Api(settings)

    for (start, _), billed in billed_by_period(bill()).items():
        body = api.get(**charge_span(bill()), billing_period=start[:7])
        assert exact(body["total_cost"]) == billed
    both = api.get(**charge_span(bill()), billing_period=["2024-09", "2024-10"])
    assert exact(both["total_cost"]) == sum(billed_by_period(bill()).values())
    assert api.get(**charge_span(bill()), billing_period="2024-08")["total_count"] == 0


@pytest.mark.parametrize("month", ["2024-13", "2024-9", "September", "2024-09-01"])
def test_a_billing_period_that_is_no_month_is_a_400_problem(settings: Settings, month: str) -> None:
    api = Api(settings)
    response = api.client.get(
        f"/restapi/v2/organizations/{ORG}/clean_expenses",
        query_string={**period_query(*month_bounds("2024-09")), "billing_period": month},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    problem = response.get_json()
    assert (response.status_code, problem["status"], problem["title"]) == (400, 400, "Bad Request")
    assert problem["errors"] == {"billing_period.0": ["must be a month, YYYY-MM"]}


def test_a_reimport_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bill.csv", bill())
    import_bill(settings, ORG, path)
    before = snapshot(settings), stored_rows(settings)

    import_bill(settings, ORG, path)

    assert (snapshot(settings), stored_rows(settings)) == before


def test_restating_october_leaves_september_s_rows_of_the_same_day(
    settings: Settings, tmp_path: Path
) -> None:
    """September 30 holds no September row here, so add one: October's re-import must
    restate its own row of that day and leave September's."""
    september_30 = {
        **bill()[2],
        "ChargePeriodStart": "2024-09-30T00:00:00Z",
        "ChargePeriodEnd": "2024-10-01T00:00:00Z",
    }
    lines = [*bill(), september_30]
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", lines))
    october = [row for row in lines if row["BillingPeriodStart"].startswith("2024-10")]
    changed = [{**row, "BilledCost": "2.43", "EffectiveCost": "2.43"} for row in october]

    import_bill(settings, ORG, write_csv(tmp_path / "october.csv", changed))

    september = [row for row in lines if row["BillingPeriodStart"].startswith("2024-09")]
    assert stored_rows(settings) == expected_rows(september + changed)


def test_rows_imported_before_billing_periods_are_replaced_not_doubled(
    settings: Settings, tmp_path: Path
) -> None:
    """An import from before sql/schema/007 left rows without a billing period, the
    October-billed September 30 moved onto October 1: the next import cancels them."""
    october_1 = [row for row in bill() if row["BillingPeriodStart"].startswith("2024-10")]
    legacy_cost = sum(float(row["BilledCost"]) for row in october_1)
    with connect(settings.clickhouse_dsn) as client:
        client.command(sqlfiles.schema_statements()[0][1])
        client.insert(
            "expenses",
            [
                [
                    account_id(ORG, "aws_cnr", "222200000001"),
                    _row_id(october_1[0]),
                    pd.Timestamp("2024-10-01", tz="UTC").to_pydatetime(),
                    legacy_cost,
                    1,
                ]
            ],
            column_names=["cloud_account_id", "resource_id", "date", "cost", "sign"],
        )

    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))

    assert stored_rows(settings) == expected_rows(bill())


@pytest.mark.parametrize(
    ("column", "text", "why"),
    [
        ("EffectiveCost", "1,5", "is not a number"),
        ("ListCost", "inf", "is not a finite number"),
        ("ContractedCost", "x", "is not a number"),
        ("EffectiveCost", "2e12", "is beyond the bound of 1e12 USD in magnitude"),
    ],
)
def test_a_metric_cost_that_is_no_amount_is_refused_by_line_and_column(
    settings: Settings, tmp_path: Path, column: str, text: str, why: str
) -> None:
    """The money rule of BilledCost (etl/core/money.py) holds for the metrics' columns."""
    lines = bill()
    lines[4] = {**lines[4], column: text}

    with pytest.raises(MalformedBillError) as raised:
        import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", lines))

    assert f"line 6, column {column}: '{text}' {why}" in str(raised.value)
    assert snapshot(settings) == ([], [], {})


@pytest.mark.parametrize("metric", list(METRIC_SOURCES))
def test_clean_expenses_sums_the_metric_s_column(
    settings: Settings, tmp_path: Path, metric: str
) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))

    body = Api(settings).get(**charge_span(bill()), cost_metric=metric)

    assert body["cost_metric"] == metric
    assert exact(body["total_cost"]) == column_total(bill(), METRIC_SOURCES[metric])
    items = {item.get("cloud_resource_id"): item["cost"] for item in body["clean_expenses"]}
    used = [row for row in bill() if row["CommitmentDiscountStatus"] != "Unused"]
    for row in used:
        if row["ResourceId"] == NULL:
            continue
        lines = [line for line in used if line["ResourceId"] == row["ResourceId"]]
        assert exact(items[row["ResourceId"]]) == column_total(lines, METRIC_SOURCES[metric])


def test_the_organization_s_default_metric_applies_until_a_request_says_otherwise(
    settings: Settings, tmp_path: Path
) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))
    api = Api(settings)
    billed, effective = (column_total(bill(), c) for c in ("BilledCost", "EffectiveCost"))
    assert api.get(**charge_span(bill()))["cost_metric"] == "billed"  # nothing chosen

    def pricing(*args: str) -> str:
        result = CliRunner().invoke(
            cli,
            ["pricing", "metric", "--organization-id", ORG, *args],
            env={"K8SCOST_DATA_DIR": str(settings.data_dir)},
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert pricing() == "billed\n"
    assert pricing("effective") == "effective\n"
    assert pricing() == "effective\n"

    chosen = api.get(**charge_span(bill()))
    assert (chosen["cost_metric"], exact(chosen["total_cost"])) == ("effective", effective)
    overridden = api.get(**charge_span(bill()), cost_metric="billed")
    assert (overridden["cost_metric"], exact(overridden["total_cost"])) == ("billed", billed)
    other = CliRunner().invoke(
        cli,
        ["pricing", "metric", "--organization-id", ORG, "amortized"],
        env={"K8SCOST_DATA_DIR": str(settings.data_dir)},
    )
    assert other.exit_code == 2 and "amortized" in other.output


def test_a_cost_metric_that_is_none_of_the_three_is_a_400_problem(settings: Settings) -> None:
    api = Api(settings)
    response = api.client.get(
        f"/restapi/v2/organizations/{ORG}/clean_expenses",
        query_string={**period_query(*month_bounds("2024-09")), "cost_metric": "amortized"},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400
    assert "cost_metric" in response.get_json()["errors"]


def _get(api: Api, endpoint: str, **query: Any) -> Any:
    response = api.client.get(
        f"/restapi/v2/organizations/{ORG}/{endpoint}",
        query_string=query,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("metric", list(METRIC_SOURCES))
def test_breakdown_expenses_sums_the_metric_s_column_day_by_day(
    settings: Settings, tmp_path: Path, metric: str
) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))

    body = _get(
        Api(settings),
        "breakdown_expenses",
        **charge_span(bill()),
        breakdown_by="service_name",
        cost_metric=metric,
    )

    assert body["cost_metric"] == metric
    assert exact(body["total"]) == column_total(bill(), METRIC_SOURCES[metric])
    day = str(epoch("2024-09-03T00:00:00Z"))
    charged = [row for row in bill() if row["ChargePeriodStart"].startswith("2024-09-03")]
    on_day = sum(bucket["cost"] for bucket in body["breakdown"][day].values())
    assert exact(on_day) == column_total(charged, METRIC_SOURCES[metric])


def test_a_budget_s_spend_is_in_the_requested_or_the_organization_s_metric(
    settings: Settings, tmp_path: Path
) -> None:
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))
    api = Api(settings)
    created = api.client.post(
        f"/restapi/v2/organizations/{ORG}/budgets",
        json={"name": "sim", "scope": "organization", "amount_usd": 1000},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    september = [row for row in bill() if row["ChargePeriodStart"].startswith("2024-09")]

    def status(**query: str) -> dict[str, Any]:
        (budget,) = _get(api, "budgets", as_of="2024-09-30", **query)["budgets"]
        return budget["status"]

    billed, effective = status(), status(cost_metric="effective")
    assert (billed["cost_metric"], effective["cost_metric"]) == ("billed", "effective")
    assert exact(billed["month_to_date_usd"]) == column_total(september, "BilledCost")
    assert exact(effective["month_to_date_usd"]) == column_total(september, "EffectiveCost")
    set_default_metric(registry.open_database(settings.mongo_uri, settings.mongo_db), ORG, "list")
    assert exact(status()["month_to_date_usd"]) == column_total(september, "ListCost")


def test_the_bills_are_clean_expenses_per_account_and_billing_period_in_each_metric(
    settings: Settings, tmp_path: Path
) -> None:
    """Each (account, billing period) of the bills answer sums clean_expenses' items of
    that billing period over every day, in each metric, summed here per account; the
    billed totals are the file's BilledCost per billing period."""
    lines = bill()
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", lines))
    api = Api(settings)
    months = sorted({row["BillingPeriodStart"][:7] for row in lines})
    answer = _get(
        api,
        "bills",
        start_date=epoch(f"{months[0]}-01T00:00:00Z"),
        end_date=epoch(f"{months[-1]}-01T00:00:00Z"),
    )
    assert answer["billing_periods"] == months
    expected: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(Decimal))
    for month in months:
        for metric in METRIC_SOURCES:
            items = _get(
                api,
                "clean_expenses",
                start_date=0,
                end_date=2**32 - 1,
                billing_period=month,
                cost_metric=metric,
            )["clean_expenses"]
            for item in items:
                bill_of = expected[(item["cloud_account_id"], month)]
                bill_of[f"{metric}_cost"] += exact(item["cost"])
                bill_of["item_count"] = bill_of.get("item_count", 0) + (metric == "billed")
    found = {
        (row["cloud_account_id"], row["billing_period"]): {
            "item_count": row["item_count"],
            **{f"{metric}_cost": exact(row[f"{metric}_cost"]) for metric in METRIC_SOURCES},
        }
        for row in answer["bills"]
    }
    assert found == {key: dict(value) for key, value in expected.items()}
    for (start, _), billed in billed_by_period(lines).items():
        month_bills = [row for row in answer["bills"] if row["billing_period"] == start[:7]]
        assert sum(exact(row["billed_cost"]) for row in month_bills) == billed
    assert exact(answer["totals"]["billed_cost"]) == sum(billed_by_period(lines).values())


def test_k8s_costs_says_its_metric(settings: Settings) -> None:
    """A cluster's allocation is its cost in every metric until nodes are priced from the
    bill: the answer says which metric it was asked in."""
    body = _get(Api(settings), "k8s_costs", **charge_span(bill()), cost_metric="effective")
    assert (body["cost_metric"], body["total_count"]) == ("effective", 0)


@pytest.mark.parametrize("on", ["commitment", "vm"])
def test_unused_commitment_is_an_item_of_its_own(
    settings: Settings, tmp_path: Path, on: str
) -> None:
    """The spec's examples put an Unused row on the commitment's ResourceId (usage
    scenario 2) or on the VM it was bought for (zero-percent utilization): either way it
    is one item per commitment, never part of a resource's cost."""
    lines = bill()
    (at,) = [i for i, row in enumerate(lines) if row["CommitmentDiscountStatus"] == "Unused"]
    vm = next(row for row in lines if row["CommitmentDiscountStatus"] == "Used")
    if on == "vm":
        lines[at] = {**lines[at], "ResourceId": vm["ResourceId"]}
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", lines))

    body = Api(settings).get(**charge_span(lines), cost_metric="effective")

    (unused,) = [i for i in body["clean_expenses"] if i["resource_type"] == "Unused Commitment"]
    assert exact(unused["cost"]) == Decimal(lines[at]["EffectiveCost"])
    assert unused["meta"] == {
        "unused_commitment": True,
        "commitment_discount_id": lines[at]["CommitmentDiscountId"],
    }
    assert "cloud_resource_id" not in unused
    assert unused["name"] == f"{lines[at]['CommitmentDiscountId']} (unused)"
    vm_item = next(
        i for i in body["clean_expenses"] if i.get("cloud_resource_id") == vm["ResourceId"]
    )
    vm_lines = [
        row
        for row in lines
        if row["ResourceId"] == vm["ResourceId"] and row["CommitmentDiscountStatus"] != "Unused"
    ]
    assert exact(vm_item["cost"]) == column_total(vm_lines, "EffectiveCost")


def test_a_commitment_s_purchase_is_not_counted_again_in_list_cost(
    settings: Settings, tmp_path: Path
) -> None:
    """The usage a reservation covers states its list cost; the purchase's own ListCost
    would count those hours twice, so under `list` the purchase costs 0 (FOCUS listcost.md:
    on an accrual basis, exclude the purchases)."""
    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill()))

    body = Api(settings).get(**charge_span(bill()), cost_metric="list")

    purchases = [row for row in bill() if row["ChargeCategory"] == "Purchase"]
    assert purchases and all(Decimal(row["ListCost"]) > 0 for row in purchases)
    items = {item.get("cloud_resource_id"): item["cost"] for item in body["clean_expenses"]}
    reservation = next(row for row in purchases if row["ChargeFrequency"] == "One-Time")
    assert items[reservation["ResourceId"]] == 0
    naive = sum(Decimal(row["ListCost"]) for row in bill() if row["ListCost"] != NULL)
    listed = sum(
        Decimal(row["ListCost"])
        for row in bill()
        if row["ListCost"] != NULL and row["ChargeCategory"] != "Purchase"
    )
    tax = sum(Decimal(row["BilledCost"]) for row in bill() if row["ListCost"] == NULL)
    assert exact(body["total_cost"]) == listed + tax != naive + tax
