"""Which day a run processes, decided in one place."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from etl.days import FutureDayError, parse_day
from etl.orchestration import resolve_day


def test_the_date_param_wins_over_the_data_interval():
    assert resolve_day("2026-03-04", datetime(2026, 5, 1, tzinfo=UTC)) == date(2026, 3, 4)


def test_the_data_interval_start_is_the_day():
    assert resolve_day(None, datetime(2026, 5, 1, tzinfo=UTC)) == date(2026, 5, 1)
    assert resolve_day("", datetime(2026, 5, 1, tzinfo=UTC)) == date(2026, 5, 1)


def test_no_param_and_no_interval_is_an_error():
    with pytest.raises(ValueError, match="which day"):
        resolve_day(None, None)


def test_a_day_is_only_complete_after_its_utc_midnight():
    now = datetime(2026, 5, 2, 0, 0, 1, tzinfo=UTC)
    assert parse_day("2026-05-01", now) == date(2026, 5, 1)
    with pytest.raises(FutureDayError):
        parse_day("2026-05-02", now)


def test_a_malformed_date_says_the_expected_format():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("05/01/2026")
