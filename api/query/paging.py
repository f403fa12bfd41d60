"""One page of an ordered answer: the rule every paged endpoint applies in Python.

Why one helper: an endpoint that pages in its own way drifts (the sharing answer of
clean_expenses once ignored `offset`, so page 2 repeated page 1). The SQL paths page
with the same rule (`offset` skipped, then at most `limit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def page(items: Sequence[T], limit: int | None, offset: int = 0) -> list[T]:
    """`items` with the first `offset` skipped, then at most `limit` (all, without one)."""
    return list(items[offset : offset + limit] if limit is not None else items[offset:])
