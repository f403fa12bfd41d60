"""Finding encoded items by key (api/render/itemindex.py) and writing them as Arrow bytes.

The index trusts no key on its own: every find is checked against the id, so ids
sharing a key, and unknown ids whose key another id has, are still told apart.
The keys ClickHouse computes must be the ones Python computes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from api.render import itemindex
from api.render.arrowbytes import bytes_array, joined_values, json_floats, json_numbers
from api.render.finite import NonFiniteNumberError
from api.render.itemindex import NOT_FOUND, ItemIndex, resource_keys
from etl.storage.clickhouse import connect

IDS = ["res-1", "cl-0", "", "ünïcode/ids", "arn:aws:ec2:us-east-1:1:instance/i-0abc"]


def test_clickhouse_computes_the_same_keys_as_python(tmp_path: Path) -> None:
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        result = client.query(
            "SELECT xxHash64(id) FROM (SELECT arrayJoin({ids:Array(String)}) AS id)",
            parameters={"ids": IDS},
        )
    assert [row[0] for row in result.result_rows] == resource_keys(IDS).tolist()


def positions(index: ItemIndex, wanted: list[str]) -> list[int]:
    return index.positions(pa.array(wanted, pa.string()), resource_keys(wanted)).tolist()


@pytest.mark.parametrize("shared_keys", [False, True])
def test_every_id_is_found_where_it_is_and_no_other(
    shared_keys: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shared_keys:  # every id, known or not, has one key
        monkeypatch.setattr(itemindex, "resource_key", lambda resource_id: 7)
    index = ItemIndex.build(IDS, [identifier.encode() for identifier in IDS])
    wanted = ["cl-0", "unknown", "res-1", "ünïcode/ids", "cl-0", ""]

    found = positions(index, wanted)

    assert found == [IDS.index(w) if w in IDS else NOT_FOUND for w in wanted]
    assert index.take(np.array(found)).to_pylist() == [
        w.encode() if w in IDS else None for w in wanted
    ]


def test_an_empty_index_finds_nothing() -> None:
    index = ItemIndex.build([], [])

    assert positions(index, ["res-1"]) == [NOT_FOUND]
    assert index.take(np.array([NOT_FOUND])).to_pylist() == [None]


def test_numbers_read_back_to_the_same_doubles_and_nan_is_refused() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [rng.random(2000) * 10.0 ** rng.integers(-12, 18, 2000), [0.0, -0.0, 0.1 + 0.2, 5e-324]]
    )

    texts = json_numbers(pa.array(values)).to_pylist()

    assert [json.loads(text) for text in texts] == values.tolist()
    for bad in (math.nan, math.inf, -math.inf):  # never written as null (issue #26)
        with pytest.raises(NonFiniteNumberError):
            json_numbers(pa.array([1.5, bad]))


def test_floats_read_back_as_floats_of_the_same_doubles() -> None:
    """json_floats (the bills' costs): what Python's json would write, up to the layout
    of the digits: each text reads back as a float (never an int, `7` for 7.0) of the
    very same double, its sign of zero included."""
    rng = np.random.default_rng(7)
    integral = np.floor(rng.random(500) * 10.0 ** rng.integers(0, 17, 500))
    values = np.concatenate(
        [
            integral,
            -integral,
            rng.random(500) * 10.0 ** rng.integers(-12, 25, 500),
            [0.0, -0.0, 7.0, 1e15, 1e16, 1e22, 0.1 + 0.2, 5e-324],
        ]
    )

    texts = json_floats(pa.array(values)).to_pylist()

    read = [json.loads(text) for text in texts]
    assert all(isinstance(value, float) for value in read)
    assert [math.copysign(1.0, value) for value in read] == np.copysign(1.0, values).tolist()
    assert read == values.tolist()
    assert texts[-8:-5] == [b"0.0", b"-0.0", b"7.0"]
    with pytest.raises(NonFiniteNumberError):
        json_floats(pa.array([1.5, math.inf]))


def test_joined_values_are_the_values_back_to_back() -> None:
    array = bytes_array([b"ab", b"", b"cde", b"f"]).slice(1, 2)

    assert bytes(joined_values(array)) == b"cde"
