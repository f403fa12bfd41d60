"""One page of an ordered answer: the rule every paged endpoint applies, in Python or SQL.

Why one helper: an endpoint that pages in its own way drifts (the sharing answer of
clean_expenses once ignored `offset`, so page 2 repeated page 1). The rule is
`offset` items skipped, then at most `limit` (all, without one); `Page` says it once
for a Python list (`of`), for Arrow positions (`bounds`), for a SQL query that pages
itself (`sql_parameters`), and for the answer's echo of what was asked (`fields`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """`offset` items skipped, then at most `limit` (None: every item left)."""

    limit: int | None = None
    offset: int = 0

    @classmethod
    def of_query(cls, query: Mapping[str, Any]) -> Page:
        """The page a validated query string asks for (`limit`, `offset`, both optional)."""
        return cls(query.get("limit"), query.get("offset") or 0)

    def bounds(self, count: int) -> slice:
        """The positions this page keeps of `count` ordered items."""
        start = min(self.offset, count)
        stop = count if self.limit is None else min(count, start + self.limit)
        return slice(start, stop)

    def of(self, items: Sequence[T]) -> list[T]:
        """The items of this page, in their order."""
        return list(items[self.bounds(len(items))])

    def sql_parameters(self, most: int) -> dict[str, int]:
        """`limit` and `offset` for a query that pages itself, neither above `most`
        (no limit: `most` items)."""
        limit = most if self.limit is None else min(self.limit, most)
        return {"limit": limit, "offset": min(self.offset, most)}

    def fields(self) -> dict[str, int]:
        """What an answer echoes: `limit` when one was given, `offset` when not 0."""
        echoed = {} if self.limit is None else {"limit": self.limit}
        return {**echoed, "offset": self.offset} if self.offset else echoed
