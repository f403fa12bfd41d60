"""Every resource's encoded item, found by a 64-bit key of its id that ClickHouse also computes.

A full clean_expenses answer looks up tens of thousands of resource ids in the
catalog. Looked up one by one in a dict, each id misses the CPU cache; Arrow's
`index_in` builds a hash set of the whole catalog per call, however few the ids;
`search_sorted` on the ids compares strings. So the query returns the key of each
id (`xxHash64`, sql/queries/clean_expenses_costs.sql) and a pandas Index of the
catalog's keys, whose hash table is built once per catalog, finds them all in one
vectorized call. Each find is checked against the id itself: an id whose key
another id also has is found by its id instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from api.render.arrowbytes import bytes_array

NOT_FOUND = -1


def resource_key(resource_id: str) -> int:
    """The id's key: what ClickHouse's `xxHash64(resource_id)` gives (a test holds them equal)."""
    return xxhash.xxh64_intdigest(resource_id.encode())


def resource_keys(resource_ids: Sequence[str]) -> np.ndarray:
    """`resource_key` of each id."""
    return np.fromiter(map(resource_key, resource_ids), np.uint64, len(resource_ids))


@dataclass(frozen=True)
class ItemIndex:
    """Values (encoded items) by resource id, found by the ids' keys."""

    ids: pa.StringArray
    values: pa.LargeBinaryArray
    by_key: pd.Index  # the keys held by one id only, in the order of...
    key_places: np.ndarray  # ...the positions of those ids, then NOT_FOUND (for "no key")
    shared: dict[str, int]  # the positions of the ids whose key another id also has

    @classmethod
    def build(cls, ids: Sequence[str], values: Sequence[bytes]) -> ItemIndex:
        """The index of `values[i]` under `ids[i]`."""
        keys = resource_keys(ids)
        repeated = pd.Index(keys).duplicated(keep=False)
        return cls(
            pa.array(ids, pa.string()),
            bytes_array(values),
            pd.Index(keys[~repeated]),
            np.append(np.flatnonzero(~repeated), NOT_FOUND),
            {ids[place]: int(place) for place in np.flatnonzero(repeated)},
        )

    def positions(self, resource_ids: pa.StringArray, keys: np.ndarray) -> np.ndarray:
        """Where each id's value is (NOT_FOUND for an id not indexed); `keys` are theirs."""
        if not len(self.ids):
            return np.full(len(keys), NOT_FOUND, np.int64)
        places = self.key_places[self.by_key.get_indexer(keys)]  # get_indexer's -1: NOT_FOUND
        checked = self.ids.take(np.where(places == NOT_FOUND, 0, places))
        same = pc.equal(checked, resource_ids).to_numpy(zero_copy_only=False)
        for index in np.flatnonzero((places == NOT_FOUND) | ~same):
            places[index] = self.shared.get(resource_ids[int(index)].as_py(), NOT_FOUND)
        return places

    def take(self, places: np.ndarray) -> pa.LargeBinaryArray:
        """The values at `places`; null where NOT_FOUND."""
        return self.values.take(pa.array(places, mask=places == NOT_FOUND))
