"""The FOCUS fixture and what the tests expect of it, computed from the file alone.

Expected costs are summed here with `Decimal` from the fixture's text, never with
the importer's code; the API's totals are compared with them to the millionth of
a dollar (the fixture's precision).
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from flask.testing import FlaskClient

from api.app import create_app
from api.auth import issue_token
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "focus" / "focus_1_0_four_providers.csv"
COMMITMENTS = FIXTURE.with_name("focus_1_2_commitments.csv")
ORG = "org-focus"
MILLIONTH = Decimal("0.000001")
NULL = "NULL"  # how the FinOps Foundation's sample writes an absent value
# The cost columns, typed decimal as the providers' Parquet exports type them.
DECIMAL_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def rows(fixture: Path = FIXTURE) -> list[dict[str, str]]:
    with fixture.open(newline="") as text:
        return list(csv.DictReader(text))


def write_csv(path: Path, bill: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as text:
        writer = csv.DictWriter(text, fieldnames=list(bill[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(bill)
    return path


def write_parquet(path: Path, bill: list[dict[str, str]]) -> Path:
    """Typed as the providers' Parquet exports are: decimal costs, UTC times, a tags map."""
    frame = pd.DataFrame(bill).replace({"NULL": None, "": None})
    columns: dict[str, pa.Array] = {}
    for name in frame:
        values = frame[name]
        if name in DECIMAL_COLUMNS:
            columns[name] = pa.array([v and Decimal(v) for v in values], pa.decimal128(20, 6))
        elif name in TIME_COLUMNS:
            columns[name] = pa.array(pd.to_datetime(values, utc=True), pa.timestamp("us", tz="UTC"))
        elif name == "Tags":
            columns[name] = pa.array(
                [list(json.loads(t).items()) if t else None for t in values],
                pa.map_(pa.string(), pa.string()),
            )
        else:
            columns[name] = pa.array(values.astype(object), pa.string())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def write_export(root: Path, bill: list[dict[str, str]]) -> Path:
    """An AWS Data Exports-like folder: one partition per billing period, a manifest beside."""
    periods = sorted({row["BillingPeriodStart"] for row in bill})
    for number, period in enumerate(periods):
        part = [row for row in bill if row["BillingPeriodStart"] == period]
        folder = root / "focus" / "data" / f"BILLING_PERIOD={period[:7]}"
        if number % 2:
            write_parquet(folder / "focus-00001.snappy.parquet", part)
        else:
            write_csv(folder / "focus-00001.csv.gz", part)
        manifest = (
            root / "focus" / "metadata" / f"BILLING_PERIOD={period[:7]}" / "focus-Manifest.json"
        )
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"dataFiles": [], "columns": list(bill[0])}))
    return root


def copy_fixture(path: Path) -> Path:
    return Path(shutil.copyfile(FIXTURE, path))


def focus_cost(row: dict[str, str], column: str) -> Decimal:
    """A row's cost in a FOCUS column as the metrics count it (docs/api.md, "Cost metrics"):
    a NULL is the row's BilledCost; a commitment's purchase has no list or contracted cost
    of its own, its covered usage states them (FOCUS listcost.md: accrual basis)."""
    purchase = row["ChargeCategory"] == "Purchase" and row["CommitmentDiscountId"] != NULL
    if purchase and column in ("ListCost", "ContractedCost"):
        return Decimal(0)
    return Decimal(row[column] if row[column] != NULL else row["BilledCost"])


def column_total(lines: list[dict[str, str]], column: str) -> Decimal:
    """Σ of a FOCUS cost column as the metrics count it (focus_cost)."""
    return sum((focus_cost(row, column) for row in lines), Decimal(0))


def billed_by_period(bill: list[dict[str, str]]) -> dict[tuple[str, str], Decimal]:
    """(BillingPeriodStart, BillingPeriodEnd) -> the exact sum of BilledCost."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in bill:
        totals[(row["BillingPeriodStart"], row["BillingPeriodEnd"])] += Decimal(row["BilledCost"])
    return dict(totals)


def billed_by_charge_month(bill: list[dict[str, str]]) -> dict[str, Decimal]:
    """Month (YYYY-MM) of ChargePeriodStart -> the exact sum of BilledCost charged in it."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in bill:
        totals[row["ChargePeriodStart"][:7]] += Decimal(row["BilledCost"])
    return dict(totals)


def month_bounds(month: str) -> tuple[str, str]:
    """A month's [first midnight, next month's first midnight), as ISO texts."""
    first = pd.Timestamp(f"{month}-01", tz="UTC")
    return first.isoformat(), (first + pd.offsets.MonthBegin()).isoformat()


def charge_span(bill: list[dict[str, str]]) -> dict[str, int]:
    """clean_expenses' dates covering every charge day of the bill."""
    starts = sorted(pd.Timestamp(row["ChargePeriodStart"]).floor("D") for row in bill)
    return {"start_date": int(starts[0].timestamp()), "end_date": int(starts[-1].timestamp())}


def epoch(text: str) -> int:
    return int(pd.Timestamp(text).timestamp())


def period_query(start: str, end: str) -> dict[str, int]:
    """clean_expenses' dates for [start, end): the midnights of its first and last day."""
    return {"start_date": epoch(start), "end_date": epoch(end) - 86400}


def exact(cost: float) -> Decimal:
    return Decimal(repr(cost)).quantize(MILLIONTH)


class Api:
    """clean_expenses of the fixture's organization, through the app with a token."""

    def __init__(self, settings: Settings) -> None:
        self.client: FlaskClient = create_app(settings).test_client()
        db = registry.open_database(settings.mongo_uri, settings.mongo_db)
        self.token = issue_token(db, ORG)

    def get(self, **query: Any) -> Any:
        response = self.client.get(
            f"/restapi/v2/organizations/{ORG}/clean_expenses",
            query_string=query,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response if query.get("format") == "csv" else response.get_json()


def live_expenses(settings: Settings) -> dict[tuple[str, Any, str], float]:
    """Live (account, day, resource) -> cost, collapsed the way readers do."""
    with connect(settings.clickhouse_dsn) as client:
        warehouse.ensure_schema(client)  # nothing imported yet: no table either
        found = client.query(
            "SELECT cloud_account_id, toDate(date), resource_id, sum(cost * sign) FROM expenses"
            " GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0"
        ).result_rows
    return {(account, day, resource): cost for account, day, resource, cost in found}


def snapshot(settings: Settings) -> tuple[Any, ...]:
    """Accounts (but their import time), resources and live costs: what an import changes."""
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = sorted(
        ({k: v for k, v in a.items() if k != "last_import_at"} for a in db.cloud_accounts.find()),
        key=lambda account: account["_id"],
    )
    return accounts, sorted(db.resources.find(), key=lambda r: r["_id"]), live_expenses(settings)
