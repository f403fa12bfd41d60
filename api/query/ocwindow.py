"""OpenCost's `window`, `step` and boolean parameters, read over whole UTC days.

OpenCost reads a window as keywords (`today`, `yesterday`, `week`, `month`,
`lastweek`, `lastmonth`), a duration ending now (`7d`, `24h`), or a pair of RFC 3339
times or Unix seconds (opencost.io/docs/integrations/api, "window"). Our allocation
is stored per UTC day, so a window here is whole days, half-open `[start, end)`:
a duration counts whole days ending with today (`7d`: the six days before today and
today; `48h` is `2d`, `30m` is refused), a pair must fall on midnights UTC, and weeks
start on Sunday as in OpenCost's window.go. `step` is a number of days (`1d`, `24h`,
`1w`); the last step ends with the window. What cannot be read is a `ParameterError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from api.query.period import MAX_UNIX_SECONDS

DAY = 86400
MAX_STEPS = 366  # one set per step: a bounded answer
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNIT_DAYS = {"d": 1, "w": 7}


class ParameterError(ValueError):
    """A window, step or boolean we cannot read (a 400 naming the parameter)."""


@dataclass(frozen=True)
class Window:
    """`[start, end)` in Unix seconds, both midnights UTC."""

    start: int
    end: int

    def steps(self, step_days: int | None) -> list[Window]:
        """The window cut into steps of `step_days` (None: one step), the last one cut short."""
        size = (self.end - self.start) if step_days is None else step_days * DAY
        cuts = range(self.start, self.end, size)
        if len(cuts) > MAX_STEPS:
            raise ParameterError(f"{len(cuts)} steps: at most {MAX_STEPS} sets per answer")
        return [Window(start, min(start + size, self.end)) for start in cuts]


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _days(text: str, what: str) -> int:
    found = _DURATION.match(text.strip())
    if found is None:
        raise ParameterError(f"{what} {text!r} is not a duration like 7d, 24h or 1w")
    count, unit = int(found[1]), found[2]
    if unit in _UNIT_DAYS:
        days = count * _UNIT_DAYS[unit]
    elif unit == "h" and count % 24 == 0:
        days = count // 24
    else:
        raise ParameterError(f"{what} {text!r} is not whole days: costs are stored per UTC day")
    if days <= 0:
        raise ParameterError(f"{what} {text!r} must be at least one day")
    return days


def _instant(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(f"{text!r} is neither RFC 3339 nor Unix seconds") from None
    if moment.tzinfo is None:
        raise ParameterError(f"{text!r} has no time zone (RFC 3339 needs one, e.g. Z)")
    return int(moment.timestamp())


def _keyword(word: str, today: date) -> tuple[date, date] | None:
    tomorrow = today + timedelta(days=1)
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    first = today.replace(day=1)
    last_month_first = (first - timedelta(days=1)).replace(day=1)
    return {
        "today": (today, tomorrow),
        "yesterday": (today - timedelta(days=1), today),
        "week": (sunday, tomorrow),
        "month": (first, tomorrow),
        "lastweek": (sunday - timedelta(days=7), sunday),
        "lastmonth": (last_month_first, first),
    }.get(word)


def parse_window(text: str, today: date) -> Window:
    """The window `text` names, `today` being the current UTC day."""
    keyword = _keyword(text.strip().lower(), today)
    if keyword is not None:
        return Window(_midnight(keyword[0]), _midnight(keyword[1]))
    if "," in text:
        first, _, second = text.partition(",")
        start, end = _instant(first), _instant(second)
        if start % DAY or end % DAY:
            raise ParameterError(f"window {text!r} must start and end at midnight UTC")
        if start < 0 or end > MAX_UNIX_SECONDS:
            raise ParameterError(f"window {text!r} is outside the days the stores hold")
        if end <= start:
            raise ParameterError(f"window {text!r} ends before it starts")
        return Window(start, end)
    end = _midnight(today + timedelta(days=1))
    return Window(end - _days(text, "window") * DAY, end)


def parse_step(text: str) -> int:
    """A step's whole days."""
    return _days(text, "step")


def parse_bool(text: str, name: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it (OpenCost's query parameters)."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ParameterError(f"{name} {text!r} is not a boolean (true or false)")
