"""Which day a run costs, decided in one place, for every way of starting a run.

The (logical date, run_after) pairs are what Airflow 3 gives each kind of run with
the daily CronDataIntervalTimetable; tests/dags checks them against the real timetable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from etl.core.days import FutureDayError, parse_day
from etl.worker.orchestration import last_complete_day, run_day

D = date(2026, 11, 12)
MIDNIGHT_D = datetime(2026, 11, 12, tzinfo=UTC)
MIDNIGHT_AFTER = MIDNIGHT_D + timedelta(days=1)
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # days later: every day above is complete


def test_a_scheduled_run_costs_its_interval_start():
    # Interval [D, D+1): logical date D, run at D+1 00:00.
    assert run_day(None, MIDNIGHT_D, MIDNIGHT_AFTER, NOW) == D


def test_a_backfill_costs_the_days_from_date_to_date_names():
    # `--from-date 2026-11-10 --to-date 2026-11-12`: one run per interval, logical date = start.
    starts = [MIDNIGHT_D - timedelta(days=n) for n in (2, 1, 0)]
    days = [run_day(None, start, start + timedelta(days=1), NOW) for start in starts]
    assert days == [date(2026, 11, 10), date(2026, 11, 11), D]


def test_airflow_dags_test_d_costs_d_not_the_day_before():
    # `airflow dags test k8s_costs_daily D`: logical date D, interval inferred [D-1, D).
    assert run_day(None, MIDNIGHT_D, NOW, NOW) == D


def test_a_ui_trigger_costs_the_day_of_its_logical_date_in_utc():
    assert run_day(None, datetime(2026, 11, 12, 14, 5, tzinfo=UTC), NOW, NOW) == D
    # 2026-11-13 01:00 in UTC+2 is still the 12th in UTC.
    plus_two = timezone(timedelta(hours=2))
    assert run_day(None, datetime(2026, 11, 13, 1, 0, tzinfo=plus_two), NOW, NOW) == D


def test_the_date_param_wins_over_the_logical_date():
    assert run_day("2026-03-04", MIDNIGHT_D, NOW, NOW) == date(2026, 3, 4)
    # A run without a logical date: the repair DAG, `airflow dags trigger --conf`.
    assert run_day("2026-03-04", None, NOW, NOW) == date(2026, 3, 4)
    assert run_day("", MIDNIGHT_D, NOW, NOW) == D  # the form's empty field


def test_a_run_without_logical_date_or_param_costs_the_last_day_complete_at_run_after():
    assert run_day(None, None, datetime(2026, 11, 13, 10, 37, tzinfo=UTC), NOW) == D
    assert run_day(None, None, MIDNIGHT_AFTER, NOW) == D


def test_the_trigger_forms_default_now_costs_the_last_complete_day():
    # The UI form's default logical date is "now", on the day the run is created: that
    # day has not ended, so the run costs what is ready, the day before.
    now = datetime(2026, 11, 13, 10, 37, tzinfo=UTC)
    assert run_day(None, now, now, now) == D
    assert run_day("", now - timedelta(seconds=5), now, now) == D  # the form opened earlier


def test_a_logical_date_after_the_day_the_run_was_created_is_refused_not_shifted():
    created = datetime(2026, 11, 12, 10, 37, tzinfo=UTC)
    with pytest.raises(FutureDayError, match="2026-11-13 has not ended"):
        run_day(None, created + timedelta(days=1), created, created)


def test_the_last_complete_day_is_in_utc():
    assert last_complete_day(MIDNIGHT_AFTER) == D
    assert last_complete_day(MIDNIGHT_AFTER - timedelta(microseconds=1)) == D - timedelta(days=1)
    plus_two = timezone(timedelta(hours=2))
    assert last_complete_day(datetime(2026, 11, 13, 1, 0, tzinfo=plus_two)) == D - timedelta(days=1)


def test_a_day_is_only_complete_after_its_utc_midnight():
    now = datetime(2026, 5, 2, 0, 0, 1, tzinfo=UTC)
    assert parse_day("2026-05-01", now) == date(2026, 5, 1)
    with pytest.raises(FutureDayError):
        parse_day("2026-05-02", now)


def test_a_malformed_date_says_the_expected_format():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("05/01/2026")
