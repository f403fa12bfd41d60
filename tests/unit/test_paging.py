"""The one paging rule (api/query/paging.py): `offset` skipped, then at most `limit`.

Every paged endpoint pages through `Page`, in Python (`of`, `bounds`) or by handing
it to a query that pages itself (`sql_parameters`); the expected pages here are
written out by hand, and the SQL form is checked by applying its two numbers the way
sql/queries/clean_expenses_costs.sql does (`arraySlice(sorted, offset + 1, limit)`).
"""

from __future__ import annotations

import pytest

from api.query.paging import Page

ITEMS = ["a", "b", "c", "d", "e"]
MOST = 2**31 - 1


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (Page(), ["a", "b", "c", "d", "e"]),
        (Page(2), ["a", "b"]),
        (Page(2, 2), ["c", "d"]),
        (Page(2, 4), ["e"]),
        (Page(2, 5), []),
        (Page(2, 9), []),
        (Page(None, 3), ["d", "e"]),
        (Page(9, 1), ["b", "c", "d", "e"]),
    ],
)
def test_a_page_skips_offset_then_keeps_at_most_limit(page: Page, expected: list[str]) -> None:
    assert page.of(ITEMS) == expected
    assert ITEMS[page.bounds(len(ITEMS))] == expected


def _array_slice(items: list[str], offset: int, length: int) -> list[str]:
    """ClickHouse's arraySlice(items, offset, length): 1-based offset."""
    return items[offset - 1 : offset - 1 + length]


@pytest.mark.parametrize("limit", [None, 1, 2, 5, 7])
@pytest.mark.parametrize("offset", [0, 1, 4, 5, 6])
def test_the_sql_form_gives_the_same_page(limit: int | None, offset: int) -> None:
    page = Page(limit, offset)
    sql = page.sql_parameters(MOST)
    assert _array_slice(ITEMS, sql["offset"] + 1, sql["limit"]) == page.of(ITEMS)


def test_the_sql_form_stays_within_the_bound() -> None:
    assert Page().sql_parameters(10) == {"limit": 10, "offset": 0}
    assert Page(50, 70).sql_parameters(10) == {"limit": 10, "offset": 10}


def test_pages_are_disjoint_and_add_up_to_every_item() -> None:
    for size in (1, 2, 3):
        pages = [Page(size, offset).of(ITEMS) for offset in range(0, len(ITEMS), size)]
        assert [item for found in pages for item in found] == ITEMS


def test_an_answer_echoes_what_was_asked() -> None:
    assert Page().fields() == {}
    assert Page(3).fields() == {"limit": 3}
    assert Page(3, 6).fields() == {"limit": 3, "offset": 6}
    assert Page(None, 6).fields() == {"offset": 6}


def test_the_page_of_a_query_string() -> None:
    assert Page.of_query({}) == Page()
    assert Page.of_query({"limit": 4, "offset": 0}) == Page(4)
    assert Page.of_query({"limit": 4, "offset": 8}) == Page(4, 8)
