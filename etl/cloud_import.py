"""Cloud bills in the FinOps FOCUS format -> cloud accounts, resources and daily expenses.

`k8scost cloud import --organization-id ORG FILE` reads a FOCUS export (CSV or
Parquet) and loads it beside the K8s costs, so `clean_expenses` answers across
clouds and clusters:

- one cloud account per (provider, SubAccountId): `aws_cnr`, `azure_cnr` or
  `gcp_cnr`, with an id derived from (organization, type, SubAccountId), so a
  reimport finds the same account;
- one resource document per (account, ResourceId), id derived the same way; rows
  without a ResourceId (support, tax, account-level fees) belong to one resource
  per (account, ServiceName, RegionId);
- one `expenses` row per (account, day, resource): the BilledCost of the rows whose
  ChargePeriodStart falls on that UTC day, written with `warehouse.restate_day`,
  so a reimport restates the same days to the same values and changes nothing.
  Each import is the complete bill of every (sub-account, day) it contains.

The whole file is parsed and validated before anything is written: a malformed
file is rejected with the line (CSV) or row (Parquet) and the column at fault, and
nothing is loaded. Costs are in USD, like the K8s costs they are added to.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pyarrow.parquet as pq
from pymongo.database import Database

from etl import registry, warehouse
from etl.clickhouse import connect
from etl.config import Settings
from etl.days import day_start_epoch

# Fixed namespace: the same bill gives the same account and resource ids everywhere.
CLOUD_ID_NAMESPACE = uuid.UUID("0f3c2a71-8d4e-4b6a-9c15-2e7d9a4b8c60")
REQUIRED_COLUMNS = (
    "BilledCost",
    "ChargePeriodStart",
    "ServiceName",
    "ProviderName",
    "SubAccountId",
)
OPTIONAL_COLUMNS = (
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "RegionId",
    "RegionName",
    "SubAccountName",
    "Tags",
    "BillingCurrency",
)
# Lower-case fragments of ProviderName (FOCUS: "AWS", "Microsoft", "Google Cloud"...).
ACCOUNT_TYPES = (("amazon", "aws_cnr"), ("aws", "aws_cnr"), ("microsoft", "azure_cnr"))
ACCOUNT_TYPES += (("azure", "azure_cnr"), ("google", "gcp_cnr"), ("gcp", "gcp_cnr"))
CURRENCY = "USD"
MAX_LISTED_ERRORS = 10
# ClickHouse DateTime holds UInt32 seconds: 1970-01-01 to 2106-02-07.
FIRST_TIME = pd.Timestamp(0, unit="s", tz="UTC")
LAST_TIME = pd.Timestamp(2**32 - 86400, unit="s", tz="UTC")


class MalformedBillError(ValueError):
    """The file is not a loadable FOCUS bill; the message lists where and why."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import loaded."""

    accounts: int
    new_accounts: int
    resources: int
    new_resources: int
    account_days: int
    cost: float


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    """The bill as a frame of text cells (Parquet keeps its types), and the row word."""
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path).to_pandas(), "row"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    return frame, "line"


def _text(column: pd.Series) -> pd.Series:
    return column.map(lambda value: "" if value is None or value != value else str(value).strip())


def _account_type(provider: str) -> str | None:
    lowered = provider.lower()
    return next((kind for fragment, kind in ACCOUNT_TYPES if fragment in lowered), None)


def _tags(value: Any) -> dict[str, str]:
    """A FOCUS Tags cell: a JSON object (CSV), or a map or struct (Parquet)."""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return {}
    if isinstance(value, str):
        value = json.loads(value)
        if not isinstance(value, dict):
            raise ValueError("is not a JSON object")
    elif isinstance(value, list):
        value = dict(value)
    if not isinstance(value, dict):
        raise ValueError("is not a map of tags")
    return {str(key): "" if item is None else str(item) for key, item in value.items()}


class _Checker:
    """Collects (position, column, message) for every bad cell, to report them together."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.errors: list[str] = []

    def position(self, index: int) -> str:
        # CSV: line 1 is the header; Parquet: rows count from 1.
        return f"{self.word} {index + 2 if self.word == 'line' else index + 1}"

    def flag(self, mask: pd.Series, column: str, values: pd.Series, problem: str) -> None:
        for index in mask[mask].index:
            self.errors.append(
                f"{self.position(index)}, column {column}: {values[index]!r} {problem}"
            )

    def raise_if_any(self, path: Path) -> None:
        if self.errors:
            listed = "; ".join(self.errors[:MAX_LISTED_ERRORS])
            more = len(self.errors) - MAX_LISTED_ERRORS
            suffix = f"; and {more} more" if more > 0 else ""
            raise MalformedBillError(
                f"{path.name}: not loaded, {len(self.errors)} problem(s): {listed}{suffix}"
            )


def parse_bill(path: Path) -> pd.DataFrame:
    """Read and validate a FOCUS file; one clean row per bill row, or MalformedBillError.

    Columns of the result: account_type, sub_account_id, sub_account_name,
    cloud_resource_id, resource_name, resource_type, service_name, region, tags,
    day, cost.
    """
    try:
        raw, word = _read(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise MalformedBillError(
            f"{path.name}: not a readable CSV or Parquet file: {error}"
        ) from error
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise MalformedBillError(f"{path.name}: missing FOCUS column(s) {', '.join(missing)}")
    raw = raw.reset_index(drop=True)
    check = _Checker(word)
    text = {
        column: _text(raw[column]) if column in raw else pd.Series("", index=raw.index)
        for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if column != "Tags"
    }

    cost = pd.to_numeric(raw["BilledCost"].map(_number_text), errors="coerce")
    check.flag(
        cost.isna() | cost.abs().eq(float("inf")),
        "BilledCost",
        raw["BilledCost"],
        "is not a number",
    )
    starts = pd.to_datetime(raw["ChargePeriodStart"], utc=True, errors="coerce", format="ISO8601")
    bad_start = starts.isna() | (starts < FIRST_TIME) | (starts >= LAST_TIME)
    check.flag(bad_start, "ChargePeriodStart", raw["ChargePeriodStart"], "is not an ISO 8601 time")
    kinds = text["ProviderName"].map(_account_type)
    check.flag(
        kinds.isna(), "ProviderName", text["ProviderName"], "is not AWS, Azure or Google Cloud"
    )
    for column in ("SubAccountId", "ServiceName"):
        check.flag(text[column].eq(""), column, text[column], "is empty")
    currency = text["BillingCurrency"]
    check.flag(~currency.isin(["", CURRENCY]), "BillingCurrency", currency, f"is not {CURRENCY}")
    tags = pd.Series([{}] * len(raw), index=raw.index, dtype=object)
    if "Tags" in raw:
        for index, value in raw["Tags"].items():
            try:
                tags[index] = _tags(value)
            except ValueError as error:
                check.errors.append(f"{check.position(index)}, column Tags: {value!r} {error}")
    check.raise_if_any(path)

    region = text["RegionId"].where(text["RegionId"] != "", text["RegionName"])
    resource_id = text["ResourceId"].where(
        text["ResourceId"] != "",
        text["ServiceName"] + "/" + region.where(region != "", "global"),
    )
    resource_type = text["ResourceType"].where(text["ResourceType"] != "", text["ServiceCategory"])
    return pd.DataFrame(
        {
            "account_type": kinds,
            "sub_account_id": text["SubAccountId"],
            "sub_account_name": text["SubAccountName"],
            "cloud_resource_id": resource_id,
            "resource_name": text["ResourceName"],
            "resource_type": resource_type.where(resource_type != "", "Other"),
            "service_name": text["ServiceName"],
            "region": region,
            "tags": tags,
            "day": starts.dt.date,
            "cost": cost.astype(float),
        }
    )


def _number_text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def account_id(organization_id: str, account_type: str, sub_account_id: str) -> str:
    """The cloud account id of a bill's sub-account in an organization."""
    return str(uuid.uuid5(CLOUD_ID_NAMESPACE, f"{organization_id}/{account_type}/{sub_account_id}"))


def resource_id(cloud_account_id: str, cloud_resource_id: str) -> str:
    """The resource id of a bill's resource in a cloud account."""
    return str(uuid.uuid5(CLOUD_ID_NAMESPACE, f"{cloud_account_id}/{cloud_resource_id}"))


def _last_non_empty(values: pd.Series) -> str | None:
    present = values[values != ""]
    return present.iloc[-1] if len(present) else None


def _merged_tags(values: pd.Series) -> dict[str, str]:
    merged: dict[str, str] = {}
    for tags in values:
        merged.update(tags)
    return merged


def _resource_documents(organization_id: str, bill: pd.DataFrame) -> dict[str, dict[str, Any]]:
    documents = {}
    for (account, cloud_resource_id), rows in bill.groupby(
        ["cloud_account_id", "cloud_resource_id"], sort=True
    ):
        documents[resource_id(account, cloud_resource_id)] = {
            "cloud_account_id": account,
            "organization_id": organization_id,
            "cloud_resource_id": cloud_resource_id,
            "resource_type": rows["resource_type"].iloc[-1],
            "service_name": rows["service_name"].iloc[-1],
            "name": _last_non_empty(rows["resource_name"]) or cloud_resource_id,
            "region": _last_non_empty(rows["region"]),
            "first_seen": day_start_epoch(rows["day"].min()),
            "last_seen": day_start_epoch(rows["day"].max()) + 86400 - 1,
            "tags": _merged_tags(rows["tags"]),
            "meta": {},
            "deleted_at": 0,
        }
    return documents


def _save_accounts(db: Database, organization_id: str, bill: pd.DataFrame) -> int:
    """Create the bill's accounts that do not exist yet; stamp all of them; how many new."""
    wanted = {
        account: (
            rows["account_type"].iloc[-1],
            rows["sub_account_id"].iloc[-1],
            _last_non_empty(rows["sub_account_name"]),
        )
        for account, rows in bill.groupby("cloud_account_id", sort=True)
    }
    existing = {
        account["_id"]
        for account in db.cloud_accounts.find(
            {"organization_id": organization_id, "_id": {"$in": sorted(wanted)}},
            {"_id": 1},
        )
    }
    now = int(time.time())
    new = [
        {
            "_id": account,
            "organization_id": organization_id,
            "type": kind,
            "name": name or sub_account,
            "config": {"sub_account_id": sub_account},
            "created_at": now,
            "deleted_at": 0,
            "last_import_at": now,
        }
        for account, (kind, sub_account, name) in wanted.items()
        if account not in existing
    ]
    if new:
        db.cloud_accounts.insert_many(new)
    for account in sorted(wanted.keys() & existing):
        db.cloud_accounts.update_one({"_id": account}, {"$set": {"last_import_at": now}})
    return len(new)


def _widened(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The stored document updated by this bill: attributes from the bill, seen-span widened."""
    return {
        **fresh,
        "first_seen": min(stored.get("first_seen", fresh["first_seen"]), fresh["first_seen"]),
        "last_seen": max(stored.get("last_seen", fresh["last_seen"]), fresh["last_seen"]),
        "tags": {**stored.get("tags", {}), **fresh["tags"]},
    }


def _save_resources(db: Database, documents: dict[str, dict[str, Any]]) -> int:
    """Insert new resources, update changed ones (one scan, no per-id lookups); how many new."""
    accounts = sorted({document["cloud_account_id"] for document in documents.values()})
    stored = {
        document.pop("_id"): document
        for document in db.resources.find({"cloud_account_id": {"$in": accounts}})
        if document["_id"] in documents
    }
    now = int(time.time())
    new = [
        {"_id": rid, **document, "created_at": now}
        for rid, document in documents.items()
        if rid not in stored
    ]
    if new:
        db.resources.insert_many(new)
    for rid in sorted(documents.keys() & stored.keys()):
        updated = _widened(stored[rid], documents[rid])
        if any(stored[rid].get(key) != value for key, value in updated.items()):
            db.resources.update_one({"_id": rid}, {"$set": updated})
    return len(new)


def _daily_rows(bill: pd.DataFrame) -> Iterator[tuple[str, date, pd.DataFrame]]:
    daily = bill.groupby(["cloud_account_id", "day", "resource_id"], sort=True)["cost"].sum()
    for (account, day), rows in daily.groupby(level=["cloud_account_id", "day"], sort=True):
        frame = rows.reset_index()[["resource_id", "cost"]]
        yield account, day, frame


def import_bill(settings: Settings, organization_id: str, path: Path) -> ImportSummary:
    """Validate the whole FOCUS file, then load its accounts, resources and daily costs."""
    bill = parse_bill(path)
    bill["cloud_account_id"] = [
        account_id(organization_id, kind, sub)
        for kind, sub in zip(bill["account_type"], bill["sub_account_id"], strict=True)
    ]
    bill["resource_id"] = [
        resource_id(account, cloud_id)
        for account, cloud_id in zip(
            bill["cloud_account_id"], bill["cloud_resource_id"], strict=True
        )
    ]
    documents = _resource_documents(organization_id, bill)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    new_accounts = _save_accounts(db, organization_id, bill)
    new_resources = _save_resources(db, documents)
    account_days = 0
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        for account, day, rows in _daily_rows(bill):
            warehouse.restate_day(client, "expenses", account, day, rows)
            account_days += 1
    return ImportSummary(
        accounts=bill["cloud_account_id"].nunique(),
        new_accounts=new_accounts,
        resources=len(documents),
        new_resources=new_resources,
        account_days=account_days,
        cost=float(bill["cost"].sum()),
    )


@click.group("cloud")
def cloud_command() -> None:
    """Cloud bills (AWS, Azure, Google Cloud) in the FinOps FOCUS format."""


@cloud_command.command("import")
@click.option("--organization-id", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def cloud_import_command(settings: Settings, organization_id: str, file: Path) -> None:
    """Load a FOCUS CSV or Parquet file into the organization's cloud accounts."""
    summary = import_bill(settings, organization_id, file)
    click.echo(
        f"imported {file.name}: {summary.accounts} account(s) ({summary.new_accounts} new), "
        f"{summary.resources} resource(s) ({summary.new_resources} new), "
        f"{summary.account_days} account-day(s), {summary.cost:.6f} {CURRENCY}"
    )
