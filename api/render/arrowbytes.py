"""Arrow arrays of byte strings, for JSON assembled from encoded parts (docs/api.md).

clean_expenses lays out tens of thousands of items, each a catalog prefix, a cost
and a tail. Done by Arrow compute (`take`, `binary_join_element_wise`), the work
runs in C++ without the GIL and without a Python object per item; the answer is
then the values buffer of one array, copied once into the response. `large_binary`
(64-bit offsets) throughout, so no size of catalog overflows an offset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.render.finite import NonFiniteNumberError

BYTES = pa.large_binary()
NOTHING = pa.scalar(b"", BYTES)  # the separator of an element-wise join


def bytes_array(values: Sequence[bytes]) -> pa.LargeBinaryArray:
    """`values` as one array, from one join and their lengths.

    `pa.array` converts bytes objects one at a time; this converts them all at
    once, which counts when a whole catalog's items are encoded.
    """
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, values), np.int64, len(values)), out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(
        BYTES, len(values), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
    )


def json_numbers(values: pa.Array) -> pa.LargeBinaryArray:
    """Each float as JSON: its shortest text that reads back to the same double.

    Arrow's cast writes the shortest round-trip form (`3051`, `0.30000000000000004`,
    `1e-7`); a value JSON cannot hold (NaN, infinity) is refused (api/render/finite.py).
    """
    if pc.all(pc.is_finite(values)).as_py() is False:
        raise NonFiniteNumberError("a cost of the answer")
    return pc.cast(pc.cast(values, pa.large_string()), BYTES)


def json_floats(values: pa.Array) -> pa.LargeBinaryArray:
    """`json_numbers`, an integral value written with `.0` (`7.0`, not `7`), as Python's
    json writes a float: a client that tells integers from floats (a Python one, the
    schema's Float) reads a float, where the answer was encoded as dicts before."""
    texts = pc.cast(json_numbers(values), pa.large_string())
    integral = pc.match_substring_regex(texts, r"^-?[0-9]+$")
    dotted = pc.binary_join_element_wise(
        texts, pa.scalar(".0", texts.type), pa.scalar("", texts.type)
    )
    return pc.cast(pc.if_else(integral, dotted, texts), BYTES)


def joined_values(array: pa.LargeBinaryArray) -> memoryview:
    """The values of `array` back to back, without a copy (nulls add nothing)."""
    offsets = np.frombuffer(array.buffers()[1], np.int64)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return memoryview(array.buffers()[2])[start:end]
