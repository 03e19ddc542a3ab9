"""Parsing of date, number and duration values, shared by indexing, range queries and the
commands and endpoints that take a span of time.

Dates become UTC epoch seconds (float64). A partial date names a span: ``2024`` is the whole
year, ``2024-03`` the whole month, which is how range bounds read naturally
(``date:[2023 TO 2024]`` includes all of 2024).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from zhisou.errors import ZhisouError

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:[-/](\d{1,2}))?(?:[-/](\d{1,2}))?$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _seconds(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH).total_seconds()


def date_span(value: object) -> tuple[float, float]:
    """``(start, end)`` in epoch seconds, end exclusive, of a date, partial date or datetime.

    Raises ``ValueError`` with a readable message when the value is not a date.
    """
    if isinstance(value, dt.datetime):
        return _seconds(value), _seconds(value) + 1e-6
    if isinstance(value, dt.date):
        start = dt.datetime(value.year, value.month, value.day)
        return _seconds(start), _seconds(start + dt.timedelta(days=1))
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2024-05-01, got {value!r}")
    text = value.strip()
    match = _PARTIAL_DATE.match(text)
    try:
        if match:
            year, month, day = int(match.group(1)), match.group(2), match.group(3)
            if month is None:
                return _seconds(dt.datetime(year, 1, 1)), _seconds(dt.datetime(year + 1, 1, 1))
            if day is None:
                start = dt.datetime(year, int(month), 1)
                end = dt.datetime(year + (int(month) == 12), int(month) % 12 + 1, 1)
                return _seconds(start), _seconds(end)
            start = dt.datetime(year, int(month), int(day))
            return _seconds(start), _seconds(start + dt.timedelta(days=1))
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError as exc:
        raise ValueError(f"expected a date like 2024-05-01 or 2024-05-01T10:00:00Z, got {value!r}") from exc
    return _seconds(moment), _seconds(moment) + 1e-6


def parse_date(value: object) -> float:
    """Epoch seconds of the start of ``value``."""
    return date_span(value)[0]


def parse_number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError as exc:
            raise ValueError("number is too large") from exc
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError as exc:
            raise ValueError(f"expected a number, got {value!r}") from exc
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if math.isnan(number):
        raise ValueError("NaN is not a valid value")
    return number


_DURATION = re.compile(r"(\d{1,5})([hd])")


def parse_duration(text: str, what: str, *, low: float = 3600, high: float = 3660 * 86_400) -> float:
    """A span written as hours or days (``6h``, ``1d``, ``90d``) in seconds, between ``low`` and
    ``high``; anything else is one clear error naming ``what`` it was given for."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = int(match.group(1)) * (3600 if match.group(2) == "h" else 86_400) if match else -1
    if not low <= seconds <= high:
        span = f"from {_span(low)} to {_span(high)}"
        raise ZhisouError(f"{what} {text!r}: give hours or days {span}, e.g. {_span(low)} or 90d")
    return float(seconds)


def _span(seconds: float) -> str:
    return f"{int(seconds // 86_400)}d" if seconds >= 86_400 else f"{int(seconds // 3600)}h"
