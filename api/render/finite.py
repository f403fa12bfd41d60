"""No answer carries a number JSON cannot hold: NaN, Infinity, or a null in its place.

Money enters bounded (etl/core/money.py), so sums of what the stores hold stay finite
and these checks never fire on data loaded by this version. They guard the answers
against rows stored before the bound (two 1e308 costs sum to infinity): Python's
json writes `Infinity`, which `JSON.parse` rejects, msgspec and Arrow's text write
`null`, which says "no value" where there is a sum. Such an answer is a 500 problem
naming the cause instead, since the fault is in stored data, not in the request.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec
from flask import Response
from flask.json.provider import DefaultJSONProvider


class NonFiniteNumberError(ValueError):
    """An answer would hold a number that is not finite."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} is not a finite number: the stored costs add up beyond what a double "
            "holds (rows stored before the 1e12 USD bound); re-import or restate them"
        )


def finite(value: float, what: str) -> float:
    """`value`, when finite; NonFiniteNumberError naming `what` otherwise."""
    if not math.isfinite(value):
        raise NonFiniteNumberError(what)
    return value


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN and infinities instead of writing them."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as error:
            if "Out of range float values" not in str(error):
                raise
            raise NonFiniteNumberError("a number of the answer") from error


# A float in MessagePack is 0xcb and its IEEE 754 double, big-endian (msgspec writes
# every Python float so); a NaN or an infinity has all eleven exponent bits set, so its
# first two bytes are 0x7f or 0xff, then 0xf0 to 0xff. Other bytes can match too (inside
# an integer's eight bytes), never a non-finite double without a match.
_NON_FINITE_DOUBLE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")


def _has_non_finite(document: Any) -> bool:
    """Whether `document` holds a NaN or an infinity, value by value."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return True
    return False


def finite_json(document: Any) -> bytes:
    """`document` (dicts, lists, strings, numbers, booleans, None) as JSON with keys
    sorted, like FiniteJSONProvider, but encoded by msgspec: several times faster on a
    large answer. The same document, not the same bytes: msgspec writes non-ASCII
    characters as UTF-8 where the provider escapes them (`\u00e9`), exponents without
    `+` or a leading zero (`1e16`, `1e-7`; the provider `1e+16`, `1e-07`), and no
    trailing newline, so neither encoder can take the other's answers over without
    changing their bytes. msgspec writes NaN and infinities as null, so the document's
    numbers are looked at first, and one that is not finite is refused as the provider
    refuses it. Looked at in its MessagePack bytes (msgspec, in C), where a non-finite
    double shows as a byte pattern; only when the pattern is found (an integer's bytes
    can hold it too) is the document walked value by value to be sure: walking
    thousands of recommendations in Python took several times the encoding itself.
    MessagePack holds no integer beyond 64 bits (JSON does: a request's `limit` of 2^64
    is echoed), so such a document is walked."""
    if _may_hold_non_finite(document) and _has_non_finite(document):
        raise NonFiniteNumberError("a number of the answer")
    return msgspec.json.encode(document, order="sorted")


def _may_hold_non_finite(document: Any) -> bool:
    try:
        packed = msgspec.msgpack.encode(document)
    except OverflowError:
        return True
    return _NON_FINITE_DOUBLE.search(packed) is not None


def finite_response(document: Any) -> Response:
    """An answer whose document is encoded by `finite_json` rather than by marshmallow's
    dump and the app's provider (a large answer built with its schema's fields and
    types: the bills, the right-sizing recommendations). A non-finite number raises
    NonFiniteNumberError, which the app answers as a 500 problem, never `NaN`."""
    return Response(finite_json(document), mimetype="application/json")
