"""ClickHouse side of the pipeline: apply `sql/schema`, restate one account-day exactly.

A restatement reads what a table holds for (account, day), then inserts, in one
INSERT, a cancel row for each live row (sign -1, its current values) and the new
rows (sign +1). It may cover only part of the day, the live rows whose columns hold
given values (`within`): a bill restates its billing period, and a day may also hold
rows of the next period's bill. One INSERT into one partition is atomic, so readers see either
the old day or the new one, never a mix, a double or a gap, and a failure before
the INSERT leaves the previous good data untouched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.core.days import day_start, day_start_epoch
from etl.storage import sqlfiles

log = logging.getLogger(__name__)

KEY_COLUMNS = ["cloud_account_id", "resource_id", "date"]
_CREATED = re.compile(r"CREATE (?:TABLE IF NOT EXISTS|OR REPLACE VIEW) (\w+)")


def init_schema(client: Client) -> list[str]:
    """Apply every schema file (each is idempotent); returns the files applied."""
    applied = []
    for name, statement in sqlfiles.schema_statements():
        client.command(statement)
        applied.append(name)
    return applied


def ensure_schema(client: Client) -> list[str]:
    """Apply the schema only where a table or view of it is missing (a fresh install's
    first `k8scost run`); returns the files applied, none when every object exists.

    Why not `init_schema` on every run: DDL is `k8scost db init`'s job (and production's
    one-shot init job's), and a run that applied it took the schema's locks and time on
    every tenant-day. A schema change that adds columns to existing tables is applied by
    `k8scost db init` after an upgrade.
    """
    statements = sqlfiles.schema_statements()
    wanted = {found for _, statement in statements for found in _CREATED.findall(statement)}
    existing = {row[0] for row in client.query(sqlfiles.query("schema_tables")).result_rows}
    missing = sorted(wanted - existing)
    if not missing:
        return []
    log.info("ClickHouse lacks %s: applying sql/schema once", ", ".join(missing))
    return init_schema(client)


def _cancel_rows(state: pd.DataFrame, value_columns: list[str]) -> pd.DataFrame:
    """One sign -1 row per live row, splitting the live total evenly between them.

    Non-numeric columns (the allocation's names and labels) are copied as they are.
    """
    repeated = state.loc[state.index.repeat(state["live_rows"])].reset_index(drop=True)
    for column in value_columns:
        if pd.api.types.is_numeric_dtype(repeated[column]):
            repeated[column] = repeated[column] / repeated["live_rows"]
    repeated["sign"] = -1
    return repeated.drop(columns="live_rows")


def restate_day(
    client: Client,
    table: str,
    cloud_account_id: str,
    day: date,
    rows: pd.DataFrame,
    within: Mapping[str, object] | None = None,
) -> int:
    """Make `table` hold exactly `rows` (resource_id + value columns) for the account-day.

    Returns the number of rows inserted (cancels included). Rows of resources that
    disappeared from the day are cancelled too, so nothing is left over. With
    `within` ({column: value}), only the live rows holding those values are the day's
    to restate (and `rows` must hold them too); the others are left alone.
    """
    value_columns = [column for column in rows.columns if column not in KEY_COLUMNS]
    state = client.query_df(
        sqlfiles.query(f"{table}_day_state"),
        parameters={
            "cloud_account_id": cloud_account_id,
            "day_start": day_start_epoch(day),
        },
    )
    for column, value in (within or {}).items() if not state.empty else ():
        state = state[state[column] == value]
    fresh = rows[["resource_id", *value_columns]].copy()
    fresh["sign"] = 1
    frames = [fresh]
    if not state.empty:
        frames.insert(
            0, _cancel_rows(state[["resource_id", "live_rows", *value_columns]], value_columns)
        )
    batch = pd.concat(frames, ignore_index=True)
    batch.insert(0, "cloud_account_id", cloud_account_id)
    batch.insert(2, "date", day_start(day))
    batch["sign"] = batch["sign"].astype("int8")
    client.insert_df(table, batch)
    # After the rows, so a rollup that sees this write also sees them (etl/storage/billrollup.py).
    client.command(
        sqlfiles.query("warehouse_day_write"),
        parameters={
            "table_name": table,
            "cloud_account_id": cloud_account_id,
            "day_start": day_start_epoch(day),
        },
    )
    # Last: a rollup's freshness gate that counts this write sees the rows and the day's
    # write above (etl/storage/rollupgate.py).
    client.command(sqlfiles.query("warehouse_write"), parameters={"table_name": table})
    return len(batch)
