"""OpenCost's window keywords and filter language, read without a store."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.query import ocfilter, ocwindow

TODAY = date(2024, 3, 14)  # a Thursday


def _day(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("today", "2024-03-14", "2024-03-15"),
        ("yesterday", "2024-03-13", "2024-03-14"),
        ("week", "2024-03-10", "2024-03-15"),  # since Sunday
        ("lastweek", "2024-03-03", "2024-03-10"),
        ("month", "2024-03-01", "2024-03-15"),
        ("lastmonth", "2024-02-01", "2024-03-01"),
        ("7d", "2024-03-08", "2024-03-15"),  # today and the six days before
        ("48h", "2024-03-13", "2024-03-15"),
        ("1w", "2024-03-08", "2024-03-15"),
        ("2024-03-01T00:00:00Z,2024-03-03T00:00:00Z", "2024-03-01", "2024-03-03"),
        (f"{_day('2024-03-01')},{_day('2024-03-02')}", "2024-03-01", "2024-03-02"),
    ],
)
def test_windows_are_whole_utc_days(text, start, end):
    assert ocwindow.parse_window(text, TODAY) == ocwindow.Window(_day(start), _day(end))


@pytest.mark.parametrize(
    "text",
    ["30m", "25h", "0d", "soon", "2024-03-01T00:00:00Z,2024-03-01T00:00:00Z", "1,86400"],
)
def test_windows_we_cannot_answer_are_refused(text):
    with pytest.raises(ocwindow.ParameterError):
        ocwindow.parse_window(text, TODAY)


def test_steps_cut_the_window_and_the_last_is_short():
    window = ocwindow.parse_window("2024-03-01T00:00:00Z,2024-03-06T00:00:00Z", TODAY)
    steps = window.steps(2)
    assert [(s.end - s.start) // ocwindow.DAY for s in steps] == [2, 2, 1]
    assert steps[0].start == window.start and steps[-1].end == window.end
    with pytest.raises(ocwindow.ParameterError):
        ocwindow.parse_window("400d", TODAY).steps(1)


PARTS = {"namespace": "shop", "node": "n1", "cluster": "c1", "label:app": "__unallocated__"}


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ('namespace:"shop"', True),
        ('namespace:"data","shop"', True),
        ('namespace!:"data","shop"', False),  # negated values: none of them
        ('namespace~:"ho"', True),
        ('namespace<~:"sh"', True),
        ('namespace<~:"ho"', False),
        ('namespace!<~:"ho"', True),
        ('namespace~>:"op"', True),
        ('namespace!~>:"op"', False),
        ('label[app]:""', True),  # a missing label reads as ""
        ('label[app]!:"web"', True),
        ('namespace:"shop"+node:"n2"', False),
        ('namespace:"shop" | node:"n2"', True),
        ('(namespace:"x" | node:"n1") + cluster:"c1"', True),
    ],
)
def test_the_filter_language(text, holds):
    parsed = ocfilter.parse(text)
    assert parsed.holds(PARTS) is holds


@pytest.mark.parametrize(
    "text",
    [
        'namespace:"a" + node:"b" | cluster:"c"',  # one operator per level
        'namespace:"a',
        "namespace:a",
        'annotation[x]:"y"',
        'label:"y"',
        '(namespace:"a"',
        'namespace:"a")',
        'namespace ?: "a"',
    ],
)
def test_filters_we_cannot_read_are_refused(text):
    with pytest.raises(ocfilter.FilterError):
        ocfilter.parse(text)


def test_a_filter_names_the_groupings_it_reads():
    parsed = ocfilter.parse('namespace:"a" + (label[team]:"x" | namespace:"b")')
    assert parsed.parts == ("namespace", "label:team")
    assert ocfilter.parse("  ").parts == () and ocfilter.parse("").holds(PARTS)
