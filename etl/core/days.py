"""UTC days: the unit of work of the whole pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# The days the stores can hold: ClickHouse's `DateTime` is UInt32 Unix seconds, from
# 1970-01-01 to 2106-02-07 06:28:15 UTC, so the last whole day is 2106-02-06. A day
# outside them is refused where it enters (a CLI date, an API date, a bill's times).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2106, 2, 6)
DAY_RANGE_TEXT = f"{FIRST_DAY} to {LAST_DAY}"


class FutureDayError(ValueError):
    """A day that has not ended yet cannot be costed."""


def day_start(day: date) -> datetime:
    """Midnight UTC opening `day`: the `date` value of that day's expense rows."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_start_epoch(day: date) -> int:
    """`day_start` as Unix seconds."""
    return int(day_start(day).timestamp())


def day_end(day: date) -> datetime:
    """Midnight UTC closing `day` (the start of the next day)."""
    return day_start(day) + timedelta(days=1)


def parse_stored_day(text: str) -> date:
    """Parse YYYY-MM-DD, a day the stores can hold (ValueError otherwise)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"date {day} is out of range: the stores hold days {DAY_RANGE_TEXT}")
    return day


def parse_day(text: str, now: datetime | None = None) -> date:
    """Parse YYYY-MM-DD, a day the stores hold that has ended (UTC): a day to cost."""
    day = parse_stored_day(text)
    now = now or datetime.now(UTC)
    if day_end(day) > now:
        raise FutureDayError(
            f"date {day} has not ended yet in UTC (now {now:%Y-%m-%d %H:%M}Z): "
            "only complete days can be costed"
        )
    return day
