"""Durations as people write them in ops files: ``2s``, ``5m``, ``15m``, ``1h``, ``7d``, ``1h30m``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_WHOLE = re.compile(r"^\s*(?:\d+\s*(?:w|d|h|m|s)\s*)+$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
LONGEST = timedelta(days=3660)
"""No duration of an ops file needs ten years; past it, arithmetic on instants would overflow."""


def parse_duration(text: str) -> timedelta:
    """Parse ``'15m'`` into a timedelta; raise ValueError saying what is accepted."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(
            f"{text!r} is not a duration (use a number and a unit: 30s, 5m, 1h, 7d, 2w, or 1h30m)"
        )
    total = timedelta()
    try:
        for amount, unit in _PART.findall(text):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        total = timedelta.max
    if total <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    if total > LONGEST:
        raise ValueError(f"{text[:40]!r} is longer than ten years ({LONGEST.days}d)")
    return total


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _coerce(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write e.g. {int(value)}m or {int(value)}s)")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_coerce), PlainSerializer(format_duration, return_type=str)]


def _coerce_delay(value: Any) -> Any:
    """A delay may be nothing at all: ``0m`` (or ``0``) is "at once"."""
    if isinstance(value, str) and _WHOLE.match(value) and not any(int(n) for n, _ in _PART.findall(value)):
        return timedelta(0)
    if value == 0 and not isinstance(value, bool):
        return timedelta(0)
    return _coerce(value)


Delay = Annotated[
    timedelta, BeforeValidator(_coerce_delay), PlainSerializer(format_duration, return_type=str)
]
"""A :data:`Duration` that may be zero: the step of a notification rule that goes at once."""
