"""A clean_expenses answer: its items as Arrow columns, rendered as dicts (CSV) or JSON.

An item is a resource, its account and cost, plus, for a K8s cluster, its breakdown
and billed nodes (api/render/clusterparts.py). Its fields are those of
`CleanExpenseSchema` (api/render/schemas.py); tests/unit/test_render.py checks that
both renderings give exactly those keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.catalog.catalog import Catalog
from api.render.arrowbytes import BYTES, NOTHING, joined_values, json_numbers
from api.render.clusterparts import Clusters
from api.render.finite import finite
from api.render.items import EncodedItems, item_base

PLAIN_TAIL = pa.array([b"},"], BYTES)  # what follows the cost of an item but a cluster


@dataclass
class CleanExpenses:
    """The items (most expensive first, after `limit`) and the totals before the limit.

    An item is a resource, its account and cost, plus, for a K8s cluster, its
    breakdown and billed nodes (`clusters`, by the item's position). Items are kept
    as Arrow columns (lists are converted) and rendered from the catalog on demand:
    as dicts (CSV, tests) or as JSON laid out by Arrow compute, which skips building
    and encoding a dict per item (an answer can hold 50k items; docs/api.md).
    """

    resource_ids: pa.StringArray
    cloud_account_ids: pa.StringArray
    costs: pa.DoubleArray
    total_count: int
    total_cost: float
    clusters: Clusters = field(default_factory=Clusters.none)
    catalog: Catalog | None = None
    prefixes: pa.LargeBinaryArray | None = None  # the items' EncodedItems.item_prefixes

    def __post_init__(self) -> None:
        self.resource_ids = _arrow(self.resource_ids, pa.string())
        self.cloud_account_ids = _arrow(self.cloud_account_ids, pa.string())
        self.costs = _arrow(self.costs, pa.float64())

    @classmethod
    def empty(cls) -> CleanExpenses:
        """No item at all."""
        return cls([], [], [], 0, 0.0)

    def take(self, indices: np.ndarray) -> CleanExpenses:
        """Items `indices` only, in that order (an ordering, a page), totals unchanged."""
        rows = np.asarray(indices, np.int64)
        where = np.full(len(self.costs), -1, np.int64)
        where[rows] = np.arange(len(rows))
        moved = where[self.clusters.positions]
        kept = np.flatnonzero(moved >= 0)
        kept = kept[np.argsort(moved[kept], kind="stable")]
        return replace(
            self,
            resource_ids=self.resource_ids.take(rows),
            cloud_account_ids=self.cloud_account_ids.take(rows),
            costs=self.costs.take(rows),
            clusters=self.clusters.take(kept, moved[kept]),
            prefixes=None if self.prefixes is None else self.prefixes.take(rows),
        )

    def items(self) -> list[dict[str, Any]]:
        """Each item as a dict with CleanExpenseSchema's fields."""
        if self.catalog is None:
            return []
        catalog = self.catalog
        clusters = self.clusters.as_dicts(catalog)
        return [
            {**item_base(catalog, resource_id, account_id), "cost": cost, **clusters.get(at, {})}
            for at, (resource_id, account_id, cost) in enumerate(
                zip(
                    self.resource_ids.to_pylist(),
                    self.cloud_account_ids.to_pylist(),
                    self.costs.to_pylist(),
                    strict=True,
                )
            )
        ]

    def json_body(self, fields: dict[str, Any]) -> bytes:
        """`fields`, then the items as `clean_expenses`: one JSON object.

        Per item: the catalog's encoded prefix (`EncodedItems.item_prefixes`, which ends
        with the cost's key), its cost, then its tail: `},`, or for a cluster its
        breakdown and billed nodes first (`Clusters.json_tails`). Arrow joins the three
        columns item by item into one buffer, which is copied once, between the head
        and the end.
        """
        for key, value in fields.items():
            if isinstance(value, float):
                finite(value, key)  # msgspec would write null
        head = msgspec.json.encode(fields)[:-1]
        head += b',"clean_expenses":[' if fields else b'"clean_expenses":['
        count = len(self.resource_ids)
        if self.catalog is None or not count:
            return head + b"]}"
        prefixes = self.prefixes
        if prefixes is None:
            prefixes, _ = EncodedItems.of(self.catalog).item_prefixes(
                self.resource_ids, self.cloud_account_ids
            )
        tails = pa.concat_arrays([PLAIN_TAIL, self.clusters.json_tails(self.catalog)])
        tail_of = np.zeros(count, np.int64)
        tail_of[self.clusters.positions] = np.arange(1, len(tails))
        items = pc.binary_join_element_wise(
            prefixes, json_numbers(self.costs), tails.take(tail_of), NOTHING
        )
        return b"".join((head, joined_values(items)[:-1], b"]}"))  # [:-1]: the last comma


def _arrow(values: Sequence[Any] | pa.Array, kind: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, kind)
