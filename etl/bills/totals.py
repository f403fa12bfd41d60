"""What a bill adds up to, folded batch by batch: the only state an import keeps.

Rows are not kept. Each batch is folded into what will be written: the accounts,
one set of attributes per item (a resource, or an account-level item), the costs
(billed and the metrics') per expense row (item, day, billing period and the FOCUS
attributes of the row key, etl/core/metrics.py) and the billing periods of each
account. Its memory grows with those (the size of what is written), not with the
file: a 1M-row hourly export of 40k resources holds ~1M (item, day) rows of a few
numpy numbers each (the attributes rarely split a day). One number per row is kept
besides: a hash of the row as read, to count the rows that repeat another exactly
(in every column the import reads), which the summary warns about: FOCUS has no row
id, so such rows are summed as billed, but a double export is a likelier cause than
two identical charges.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl.core.metrics import ATTRIBUTE_COLUMNS, COST_COLUMNS

AccountKey = tuple[str, str]  # (account type, account ref: SubAccountId or BillingAccountId)
# (*AccountKey, account level, unused commitment, item ref)
ItemKey = tuple[str, str, bool, bool, str]
ITEM_COLUMNS = ["account_type", "account_ref", "account_level", "unused_commitment", "item_ref"]
ACCOUNT_COLUMNS = ["account_type", "account_ref"]
ATTRIBUTES = ("name", "resource_type", "service_name", "region", "charge_category")
# What tells an item's expense rows apart (period_first: its billing period's first day).
ROW_KEY = ["code", "day", "period_first", *ATTRIBUTE_COLUMNS]
# Costs are compacted (summed per expense row) when this many are pending.
COMPACT_AFTER = 1 << 21


@dataclass
class BillTotals:
    """Accounts, items, daily costs and billing periods of the batches folded so far."""

    accounts: dict[AccountKey, dict[str, Any]] = field(default_factory=dict)
    codes: dict[ItemKey, int] = field(default_factory=dict)  # item -> its row in `items`
    items: list[dict[str, Any]] = field(default_factory=list)
    periods: dict[AccountKey, set[tuple[int, int]]] = field(default_factory=dict)
    files: int = 0
    rows: int = 0
    _costs: list[pd.DataFrame] = field(default_factory=list)  # (ROW_KEY, costs) pieces
    _pending: int = 0
    _sums: list[float] = field(default_factory=list)
    _row_hashes: list[np.ndarray] = field(default_factory=list)

    @property
    def cost(self) -> float:
        """The sum of every BilledCost folded so far."""
        return math.fsum(self._sums)

    @property
    def duplicate_rows(self) -> int:
        """How many rows folded so far repeat an earlier row in every column read."""
        if not self._row_hashes:
            return 0
        hashes = np.concatenate(self._row_hashes)
        return len(hashes) - len(np.unique(hashes))

    def add_raw_rows(self, frame: pd.DataFrame) -> None:
        """Note the batch's rows as read (before cleaning), to count exact repeats."""
        if "Tags" in frame:  # the one column a Parquet file may hold maps or structs in
            frame = frame.assign(Tags=frame["Tags"].map(_hashable))
        hashes = pd.util.hash_pandas_object(frame[sorted(frame.columns)], index=False)
        self._row_hashes.append(hashes.to_numpy())

    def add(self, batch: pd.DataFrame) -> None:
        """Fold one clean batch (etl.bills.rows.clean_batch) into the totals."""
        if batch.empty:
            return
        self.rows += len(batch)
        self._sums.append(math.fsum(batch["cost"]))
        self._add_accounts(batch)
        codes = self._item_codes(batch)
        self._add_items(batch, codes)
        costs = (
            batch[["day", "period_first", *ATTRIBUTE_COLUMNS, *COST_COLUMNS]]
            .fillna(dict.fromkeys(ATTRIBUTE_COLUMNS, ""))
            .assign(code=codes)
            .groupby(ROW_KEY, sort=False, as_index=False)[list(COST_COLUMNS)]
            .sum()
        )
        self._costs.append(costs)
        self._pending += len(costs)
        if self._pending > COMPACT_AFTER:
            self._costs = [self.daily_costs()]
            self._pending = len(self._costs[0])

    def _add_accounts(self, batch: pd.DataFrame) -> None:
        latest = batch.groupby(ACCOUNT_COLUMNS, sort=False)[["provider", "account_name"]].last()
        for key, provider, name in latest.itertuples(name=None):
            account = self.accounts.setdefault(key, {"provider": provider, "name": None})
            account["name"] = name if isinstance(name, str) else account["name"]
        periods = batch[[*ACCOUNT_COLUMNS, "period_first", "period_last"]].drop_duplicates()
        for kind, ref, first, last in periods.itertuples(index=False, name=None):
            self.periods.setdefault((kind, ref), set()).add((int(first), int(last)))

    def _item_codes(self, batch: pd.DataFrame) -> np.ndarray:
        keys = batch[ITEM_COLUMNS].drop_duplicates()
        for key in keys.itertuples(index=False, name=None):
            if key not in self.codes:
                self.codes[key] = len(self.items)
                self.items.append({"tags": {}, "first_day": None, "last_day": None})
        keyed = keys.assign(
            code=[self.codes[key] for key in keys.itertuples(index=False, name=None)]
        )
        return batch[ITEM_COLUMNS].merge(keyed, on=ITEM_COLUMNS, how="left")["code"].to_numpy()

    def _add_items(self, batch: pd.DataFrame, codes: np.ndarray) -> None:
        """Attributes: the last non-null of the item's rows; days: their span; tags merged."""
        frame = batch[list(ATTRIBUTES)].assign(code=codes, day=batch["day"].to_numpy())
        summary = frame.groupby("code", sort=False).agg(
            **{name: (name, "last") for name in ATTRIBUTES}, low=("day", "min"), high=("day", "max")
        )
        for code, *values, low, high in summary.itertuples(name=None):
            item = self.items[code]
            item.update(
                {k: v for k, v in zip(ATTRIBUTES, values, strict=True) if isinstance(v, str)}
            )
            item["first_day"] = low if item["first_day"] is None else min(item["first_day"], low)
            item["last_day"] = high if item["last_day"] is None else max(item["last_day"], high)
        tagged = batch["tags"].notna().to_numpy()
        for code, tags in zip(codes[tagged], batch["tags"][tagged], strict=True):
            self.items[code]["tags"].update(tags)

    def daily_costs(self) -> pd.DataFrame:
        """ROW_KEY and COST_COLUMNS: each expense row's costs, sorted by ROW_KEY.

        The attributes are '' where the bill says NULL, as `expenses` stores them.
        """
        if not self._costs:
            empty = {column: pd.Series([], dtype=np.int64) for column in ROW_KEY[:3]}
            text = {column: pd.Series([], dtype=object) for column in ATTRIBUTE_COLUMNS}
            costs = {column: pd.Series([], dtype=float) for column in COST_COLUMNS}
            return pd.DataFrame({**empty, **text, **costs})
        return (
            pd.concat(self._costs, ignore_index=True)
            .groupby(ROW_KEY, sort=True, as_index=False)[list(COST_COLUMNS)]
            .sum()
        )

    def item_keys(self) -> list[ItemKey]:
        """The items' keys, by code."""
        keys: list[ItemKey] = [("", "", False, False, "")] * len(self.codes)
        for key, code in self.codes.items():
            keys[code] = key
        return keys


def _hashable(value: Any) -> Any:
    """A cell as pandas hashes it: text and nulls as they are, a Parquet map or struct
    (Tags) as its JSON."""
    if value is None or isinstance(value, str | float):
        return value
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else str(value)
