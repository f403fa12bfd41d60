"""UTC days: the unit of work of the whole pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


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


def parse_day(text: str, now: datetime | None = None) -> date:
    """Parse YYYY-MM-DD and refuse a day that has not ended yet (UTC)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD") from None
    now = now or datetime.now(UTC)
    if day_end(day) > now:
        raise FutureDayError(
            f"date {day} has not ended yet in UTC (now {now:%Y-%m-%d %H:%M}Z): "
            "only complete days can be costed"
        )
    return day
