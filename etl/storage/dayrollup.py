"""Per-day rollups: a query's rows stored per day and per set of arguments, so that a
reader sums a few stored rows instead of a period of raw rows on every request.

Fit for a query whose rows of a day depend on that day's data only (collapsing per
day, folding and reconciling per cluster-day): its answer over a period is then the
stored rows of the period's days, each as computed on the data as it is now. A day
is computed again only when a table the query reads was restated on it since
(warehouse_day_writes, sql/schema/015, written by etl/storage/warehouse.py after the
rows): each compute stores the day's latest write time as its `version`, read before
the rows are, so a restatement landing in between is newer than the version and
computed at the next read, never lost. Computes are only appended, with a marker row
per day (a day with no row must read as computed all the same); readers take each
day's latest compute (sql/include/macros.sql `latest_day_compute`).

The key hashes every argument, so another organization, filter, metric or catalog
(a changed MongoDB document changes the maps the arguments hold) is another rollup,
computed on its first read. Rows written by hand rather than by a restatement
(bench/api.py's bulk load) are not seen as writes: such data must be loaded before
its days are first read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from clickhouse_connect.driver.client import Client

from etl.storage import rollupgate, sqlfiles
from etl.storage.clickhouse import StringArray


@dataclass(frozen=True)
class DayRollup:
    """The query files of one rollup and the warehouse tables its rows are computed from."""

    stale_days: str  # the days to compute, with their versions (sql/include/macros.sql stale_days)
    compute: str  # INSERT of the rows of {days} under {day_rollup_key}
    markers: str  # INSERT of one marker row per day of {days} under {rollup_key}
    tables: tuple[str, ...]


def _text(value: Any) -> str:
    """One text per value; a list of ids and its StringArray give the same."""
    if isinstance(value, StringArray):
        return value.literal
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return StringArray(value).literal
    return repr(value)


# Arguments' texts longer than this have their digest kept (`_kept_digest`).
KEPT_DIGEST_CHARS = 4096


@lru_cache(maxsize=32)
def _kept_digest(text: str) -> bytes:
    """The digest of a long argument, kept: the big arrays (a key map of 100k ids is
    megabytes) are the catalog's own StringArray objects, the same text at every request,
    whose str hash Python keeps, so a repeated request finds them without hashing again.
    Bounded (the texts it keeps outlive their catalog until evicted)."""
    return hashlib.sha256(text.encode()).digest()


def _value_digest(text: str) -> bytes:
    if len(text) > KEPT_DIGEST_CHARS:
        return _kept_digest(text)
    return hashlib.sha256(text.encode()).digest()


def arguments_key(arguments: Mapping[str, Any]) -> str:
    """The name of a set of query arguments (lists, StringArray parameters, scalars)."""
    digest = hashlib.sha256()
    for name in sorted(arguments):
        digest.update(f"{name}=".encode())
        digest.update(_value_digest(_text(arguments[name])))
    return digest.hexdigest()


def refresh(
    client: Client,
    rollup: DayRollup,
    key: str,
    period: tuple[int, int],
    stale_parameters: Mapping[str, Any],
    compute_parameters: Callable[[int, int], Mapping[str, Any]],
) -> None:
    """Compute the rollup `key` of the days of `period` ([first, last], Unix seconds)
    that it misses or that were restated since. `stale_parameters` are what the
    stale-days query needs besides the period; `compute_parameters(first, last)` the
    compute query's arguments for the stale days' span (called only when there are
    some: a reader's own refresh of another rollup may go there). Skipped while
    nothing was restated since it last ran for the same arguments
    (etl/storage/rollupgate.py)."""

    def refresh_stale() -> None:
        first_day, last_day = period
        stale = client.query(
            sqlfiles.query(rollup.stale_days),
            parameters={
                **stale_parameters,
                "rollup_key": key,
                "table_names": list(rollup.tables),
                "first_day": first_day,
                "last_day": last_day,
            },
        ).result_rows
        if not stale:
            return
        days = [day for day, _ in stale]
        compute = {
            "compute_id": str(uuid.uuid4()),
            "days": days,
            "versions": [version for _, version in stale],
        }
        client.command(
            sqlfiles.query(rollup.compute),
            parameters={**compute_parameters(days[0], days[-1]), **compute, "day_rollup_key": key},
        )
        client.command(sqlfiles.query(rollup.markers), parameters={**compute, "rollup_key": key})

    gate = (rollup.stale_days, key, period, arguments_key(stale_parameters))
    rollupgate.refresh_unless_current(client, gate, refresh_stale)
