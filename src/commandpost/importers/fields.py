"""Reading one field of a vendor's JSON defensively: the checks every importer needs alike.

A saved response can hold anything, so a field of the wrong type reads as a default (or an error the
caller turns into a report line), never as a crash half-way through an import (docs/migrate.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def one_line(text: str) -> str:
    """``text`` printable and on one line: control characters and NULs dropped, whitespace runs one space."""
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def as_int(value: Any, default: int = 0) -> int:
    """A JSON whole number (never a bool, which Python counts as an int), else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def known_zone(value: Any) -> ZoneInfo | None:
    """The IANA zone named by ``value`` when this system knows it, else None (also for a non-string)."""
    try:
        return ZoneInfo(value) if isinstance(value, str) and value else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def iso_instant(value: Any) -> datetime:
    """An ISO 8601 instant with its UTC offset (``Z`` or ``+02:00``); ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError(f"is not a time: {str(value)[:40]!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"has no UTC offset: {value[:40]!r}")
    return parsed
