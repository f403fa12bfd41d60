"""api/render/finite.py `finite_json` refuses a document exactly when it holds a NaN or
an infinity, wherever it is, and encodes every other one as msgspec does: its quick
look at the MessagePack bytes may only ever send it to the value-by-value walk, never
let a non-finite number through. Integers whose bytes hold the pattern a non-finite
double has (0xcb, then 0x7f or 0xff, then 0xf0 or more) are drawn on purpose."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.render.finite import NonFiniteNumberError, finite_json

# 0xcb 0x7f 0xf8 and 0xcb 0xff 0xf0 inside a uint64's eight bytes, and a near miss.
LOOKALIKE_INTEGERS = st.sampled_from(
    [0xCB7FF80000000000, 0x00CBFFF000000000, 0x0000CB7FEF000000, 2**63 + 0xCB7FF0]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=6),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=2**64, max_value=2**80),  # beyond MessagePack, not JSON
    LOOKALIKE_INTEGERS,
    st.floats(allow_nan=True, allow_infinity=True),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=20,
)


def non_finite(value) -> bool:
    if isinstance(value, dict):
        return any(non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(non_finite(item) for item in value)
    return isinstance(value, float) and not math.isfinite(value)


@given(DOCUMENTS)
def test_a_document_is_refused_exactly_when_it_holds_a_non_finite_number(document):
    if non_finite(document):
        with pytest.raises(NonFiniteNumberError):
            finite_json(document)
    else:
        assert finite_json(document) == msgspec.json.encode(document, order="sorted")


def test_an_integer_beyond_64_bits_is_encoded_and_a_nan_beside_it_refused():
    """A request's `limit` of 2^64 is echoed in its answer (the API fuzz test found it)."""
    assert finite_json({"limit": 2**64}) == b'{"limit":18446744073709551616}'
    with pytest.raises(NonFiniteNumberError):
        finite_json({"limit": 2**64, "total": float("nan")})


def test_an_integer_that_looks_like_a_non_finite_double_is_encoded():
    document = {"samples": 0xCB7FF80000000000, "cost": 1.5}
    assert msgspec.msgpack.encode(document).find(b"\xcb\x7f\xf8") >= 0
    assert finite_json(document) == msgspec.json.encode(document, order="sorted")
