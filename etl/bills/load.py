"""A FOCUS bill into cloud accounts, resources (MongoDB) and daily `expenses` (ClickHouse).

Two phases. Reading streams every file of the source batch by batch: each batch
is checked (etl/bills/rows.py) and folded into the totals (etl/bills/totals.py),
so memory follows what will be written, not the size of the export. Nothing is
written before the last batch of the last file has been checked: a malformed
bill is rejected whole, every problem counted and the first ones named by file,
line (CSV: the file line the row starts on, the header being line 1; Parquet rows
count from 1) and column; so is a bill without a single row. Rows that repeat
another exactly are loaded (summed, as billed) and counted in the summary.
Writing then creates the missing accounts and resources and restates, in
ClickHouse, every billing period the bill holds for an account: the rows of that
period, on whatever days they fall (a row lands on its charge day, which may lie
outside its period), on the days it has rows for and on the days that still hold
live rows of that period from an earlier import (so a corrected bill that drops a
row or a day cancels it). Rows other periods' bills put on the same days are left
alone. Each (account, period, day) is one `warehouse.restate_day` INSERT (cancel
rows + new rows), atomic for readers; a failure while writing leaves whole days,
and importing again completes the bill.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from etl.bills.ids import account_id, account_level_id, resource_id, unused_commitment_id
from etl.bills.reader import CsvLines, batches, columns_of
from etl.bills.rows import WANTED_COLUMNS, Problems, clean_batch, missing_columns
from etl.bills.sources import BillFile, MalformedBillError, bill_files
from etl.bills.totals import BillTotals, ItemKey
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.core.metrics import ATTRIBUTE_COLUMNS, COST_COLUMNS, NO_BILLING_PERIOD
from etl.storage import expenses, registry, warehouse
from etl.storage.clickhouse import connect

EPOCH = date(1970, 1, 1)
EXPENSE_COLUMNS = ["resource_id", "billing_period", *ATTRIBUTE_COLUMNS, *COST_COLUMNS]
RestateKey = tuple[str, int, int]  # (account id, billing period's first day, day): days since EPOCH


class Bar(Protocol):
    """What a progress bar needs: `update(steps)` (click.progressbar has it)."""

    def update(self, n_steps: int) -> None: ...


Progress = Callable[[str, int], AbstractContextManager[Bar]]


class _NoBar:
    def update(self, n_steps: int) -> None:
        """Progress nobody watches."""


@contextmanager
def no_progress(label: str, total: int) -> Iterator[Bar]:
    """The default Progress: none."""
    yield _NoBar()


@dataclass(frozen=True)
class ImportSummary:
    """What an import read and loaded."""

    files: int
    rows: int
    accounts: int
    new_accounts: int
    resources: int
    new_resources: int
    account_days: int
    cost: float
    duplicate_rows: int  # rows that repeat an earlier row in every column read


def _day(days_since_epoch: int) -> date:
    return EPOCH + timedelta(days=int(days_since_epoch))


def _read_file(
    bill_file: BillFile, several: bool, totals: BillTotals, problems: Problems, bar: Bar
) -> None:
    with bill_file.local() as path:
        columns = columns_of(path, bill_file.kind, bill_file.name)
        missing = missing_columns(columns)
        if missing:
            raise MalformedBillError(
                f"{bill_file.name}: missing FOCUS column(s) {', '.join(missing)}"
            )
        wanted = [column for column in WANTED_COLUMNS if column in columns]
        prefix = f"{bill_file.name}, " if several else ""
        done = 0
        with closing(CsvLines(path, bill_file.kind)) as lines:
            for batch in batches(path, bill_file.kind, bill_file.name, wanted):
                if bill_file.kind == "parquet":

                    def where(at: int, first: int = batch.first_row) -> str:
                        return f"{prefix}row {first + at + 1}"
                else:

                    def where(at: int, first: int = batch.first_row) -> str:
                        return f"{prefix}line {lines.line_of(first + at)}"

                clean = clean_batch(batch.frame, problems, where)
                if not problems.count:
                    totals.add_raw_rows(batch.frame)
                    totals.add(clean)
                bar.update(batch.done_bytes - done)
                done = batch.done_bytes
        bar.update(bill_file.size - done)


def read_bill(settings: Settings, source: str, progress: Progress = no_progress) -> BillTotals:
    """Check and fold every file of the source; MalformedBillError if any row is bad."""
    files = bill_files(settings, source)
    several = len(files) > 1 or files[0].path is None or Path(source).is_dir()
    totals, problems = BillTotals(files=len(files)), Problems()
    with progress(f"reading {source}", sum(bill_file.size for bill_file in files)) as bar:
        for bill_file in files:
            _read_file(bill_file, several, totals, problems, bar)
    name = source if several else files[0].name
    if problems.count:
        raise MalformedBillError(problems.message(name))
    if not totals.rows:
        raise MalformedBillError(f"{name}: no rows (a header only), nothing to import")
    return totals


def _item_id(account: str, key: ItemKey, item: dict[str, Any]) -> str:
    _, _, account_level, unused, item_ref = key
    if account_level:
        return account_level_id(account, item["service_name"], item.get("charge_category"))
    if unused:
        return unused_commitment_id(account, item_ref)
    return resource_id(account, item_ref)


def _resource_document(
    organization_id: str, account: str, key: ItemKey, item: dict[str, Any]
) -> dict[str, Any]:
    _, _, account_level, unused, item_ref = key
    document: dict[str, Any] = {
        "cloud_account_id": account,
        "organization_id": organization_id,
        "resource_type": item["resource_type"],
        "service_name": item["service_name"],
        "name": item.get("name") or item_ref,
        "region": item.get("region"),
        "first_seen": day_start_epoch(_day(item["first_day"])),
        "last_seen": day_start_epoch(_day(item["last_day"])) + 86400 - 1,
        "tags": item["tags"],
        "meta": {},
        "deleted_at": 0,
    }
    if account_level:
        document["meta"] = {"account_level": True, "charge_category": item.get("charge_category")}
    elif unused:  # no cloud_resource_id: it is no resource, and never a cluster's node
        document["meta"] = {"unused_commitment": True, "commitment_discount_id": item_ref}
    else:
        document["cloud_resource_id"] = item_ref
    return document


def _account_documents(
    organization_id: str, totals: BillTotals, accounts: dict[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """The bill's accounts as `cloud_accounts` documents (registry.save_accounts keeps new ones)."""
    now = int(time.time())
    return [
        {
            "_id": accounts[key],
            "organization_id": organization_id,
            "type": key[0],
            "name": totals.accounts[key]["name"] or key[1],
            "config": {"sub_account_id": key[1], "provider_name": totals.accounts[key]["provider"]},
            "created_at": now,
            "deleted_at": 0,
            "last_import_at": now,
        }
        for key in sorted(accounts)
    ]


def _widened(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The stored document updated by this bill: attributes from the bill, seen-span widened."""
    return {
        **fresh,
        "first_seen": min(stored.get("first_seen", fresh["first_seen"]), fresh["first_seen"]),
        "last_seen": max(stored.get("last_seen", fresh["last_seen"]), fresh["last_seen"]),
        "tags": {**stored.get("tags", {}), **fresh["tags"]},
    }


def _stale_keys(
    live: list[tuple[str, date, date]], periods: dict[str, set[tuple[int, int]]]
) -> set[RestateKey]:
    """The live (account, period, day)s the bill restates though it may have no row there.

    Rows of one of the bill's periods for the account, on any day; and rows without a
    billing period on a day of one (an import from before periods were kept, whose rows
    were moved into their period's days: sql/schema/007).
    """
    stale = set()
    for account, period, day in live:
        number, spans = (day - EPOCH).days, periods[account]
        if period == NO_BILLING_PERIOD:
            if any(first <= number <= last for first, last in spans):
                stale.add((account, 0, number))
        elif any(first == (period - EPOCH).days for first, _ in spans):
            stale.add((account, (period - EPOCH).days, number))
    return stale


def _restate(
    settings: Settings,
    totals: BillTotals,
    accounts: dict[tuple[str, str], str],
    item_accounts: list[str],
    item_ids: list[str],
    progress: Progress,
) -> int:
    """Restate every (account, billing period) of the bill; how many account-days were written."""
    daily = totals.daily_costs()
    daily["account"] = pd.Series(item_accounts, dtype=object).take(daily["code"]).to_numpy()
    daily["resource_id"] = pd.Series(item_ids, dtype=object).take(daily["code"]).to_numpy()
    daily["billing_period"] = pd.to_datetime(daily["period_first"], unit="D")
    fresh = {
        key: rows[EXPENSE_COLUMNS].reset_index(drop=True)
        for key, rows in daily.groupby(["account", "period_first", "day"], sort=True)
    }
    periods = {accounts[key]: spans for key, spans in totals.periods.items()}
    bounds = [bound for spans in periods.values() for span in spans for bound in span]
    empty = daily[EXPENSE_COLUMNS].iloc[0:0]
    with connect(settings.clickhouse_dsn) as client:
        warehouse.ensure_schema(client)
        live = expenses.live_days(
            client,
            periods,
            {_day(first) for spans in periods.values() for first, _ in spans},
            _day(min(bounds)),
            _day(max(bounds)),
        )
        plan = sorted(fresh.keys() | _stale_keys(live, periods))
        with progress("writing account-days", len(plan)) as bar:
            for account, period, day in plan:
                rows = fresh.get((account, period, day), empty)
                within = {"billing_period": pd.Timestamp(_day(period))}
                warehouse.restate_day(client, "expenses", account, _day(day), rows, within)
                bar.update(1)
    return len(plan)


def import_bill(
    settings: Settings, organization_id: str, source: str | Path, progress: Progress = no_progress
) -> ImportSummary:
    """Check the whole bill (a file, a folder or an S3 prefix), then load it."""
    totals = read_bill(settings, str(source), progress)
    accounts = {key: account_id(organization_id, *key) for key in totals.accounts}
    keys = totals.item_keys()
    item_accounts = [accounts[key[:2]] for key in keys]
    item_ids = [
        _item_id(account, key, item)
        for account, key, item in zip(item_accounts, keys, totals.items, strict=True)
    ]
    documents = {
        rid: _resource_document(organization_id, account, key, item)
        for rid, account, key, item in zip(item_ids, item_accounts, keys, totals.items, strict=True)
    }
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    new_accounts = registry.save_accounts(
        db, organization_id, _account_documents(organization_id, totals, accounts)
    )
    new_resources = registry.save_resources(db, documents, _widened)
    account_days = _restate(settings, totals, accounts, item_accounts, item_ids, progress)
    return ImportSummary(
        files=totals.files,
        rows=totals.rows,
        accounts=len(accounts),
        new_accounts=new_accounts,
        resources=len(documents),
        new_resources=new_resources,
        account_days=account_days,
        cost=totals.cost,
        duplicate_rows=totals.duplicate_rows,
    )
