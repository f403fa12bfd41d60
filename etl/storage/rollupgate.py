"""The rollups' freshness gate: a refresh's stale-days query skipped while nothing was
restated since the same refresh last ran.

Every rollup reader refreshes its period before reading (etl/storage/dayrollup.py,
allocationrollup.py): a stale-days query, then computes. On a dashboard most requests
find nothing stale, yet paid that query, which joins the period's writes and computes.
The gate reads instead how many restatements the warehouse has committed
(warehouse_writes, sql/schema/022: one tiny count from the parts' metadata) and runs
the refresh only when that count differs from the one read before the last refresh of
the same rollup, key, period and arguments on this client.

Why it stays exact, across processes too:

- the count is read from the database at every request, so a restatement by any
  process (the DAG's workers, a bill import, another API process) changes it;
- restate_day counts a write last, after its rows and its warehouse_day_writes row,
  so a refresh that starts after reading a count sees every write that count holds;
- the count a refresh is remembered at is the one read *before* its stale-days query:
  a write landing during the refresh or between it and the read is not in that count,
  so the next request sees another count and refreshes (that one request may answer
  from before the write, as it would had the write come a moment later; no later
  request keeps it);
- the count only grows (a plain MergeTree, only appended), so an older count never
  comes back;
- it is kept per client object (a new database, a reopened directory: new clients),
  and left as it was when the refresh raises (the next request refreshes).

Rows written by hand rather than by a restatement are not counted, as they are not
seen by the stale-days queries either (etl/storage/dayrollup.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable

from clickhouse_connect.driver.client import Client

from etl.storage import sqlfiles

# Gates kept per client before its map is emptied: one per (rollup, key, period,
# arguments) asked, so a long-running API process asked many periods stays bounded.
MAX_GATES = 4096

_refreshed_at: weakref.WeakKeyDictionary[Client, dict[Hashable, int]] = weakref.WeakKeyDictionary()


def write_count(client: Client) -> int:
    """How many restatements the warehouse has committed (sql/schema/022)."""
    return int(client.query(sqlfiles.query("warehouse_write_count")).result_rows[0][0])


def refresh_unless_current(client: Client, gate: Hashable, refresh: Callable[[], None]) -> None:
    """Run `refresh` (a rollup's stale-days query and computes) unless it last ran for
    `gate` on this client at the current write count."""
    count = write_count(client)
    gates = _refreshed_at.setdefault(client, {})
    if gates.get(gate) == count:
        return
    refresh()
    if len(gates) >= MAX_GATES:
        gates.clear()
    gates[gate] = count
