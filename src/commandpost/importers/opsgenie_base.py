"""Reading Opsgenie's REST responses defensively: the ``data`` envelope, ids, names, times, durations.

Every Opsgenie read answers ``{"data": …, "took": …, "requestId": …}``; lists paginate with
``paging.next``. A saved file can hold anything, so each accessor returns a safe default for a
wrong type and the mapping records a skip line instead of failing half-way (docs/migrate.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from commandpost.errors import BadRequest, NotFound
from commandpost.importers.fields import iso_instant
from commandpost.importers.names import Namer
from commandpost.importers.result import ImportResult
from commandpost.importers.source import Source

UNITS = {"minutes": 1, "hours": 60, "days": 1440}


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """A printable one-line string (control characters and NULs of a hostile source dropped)."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:500].strip()


def items(source: Source, endpoint: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Each object of a list endpoint, over all its pages; a page without a ``data`` list is an error."""
    for page in source.pages(endpoint, params):
        data = as_dict(page).get("data")
        if isinstance(data, dict) and endpoint == "heartbeats":
            data = data.get("heartbeats")  # the one list Opsgenie nests: {"data": {"heartbeats": […]}}
        if not isinstance(data, list):
            raise BadRequest(f"/{endpoint}: a page without a 'data' list (not an Opsgenie list response)")
        yield from (obj for obj in data if isinstance(obj, dict))


def optional_items(
    source: Source, endpoint: str, params: Mapping[str, str] | None = None
) -> list[dict[str, Any]] | None:
    """A list endpoint that may be absent (not saved, or 404 on the account's plan): None then."""
    try:
        return list(items(source, endpoint, params))
    except NotFound:
        return None


def optional_detail(
    source: Source, endpoint: str, params: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    try:
        for page in source.pages(endpoint, params):
            return as_dict(as_dict(page).get("data"))
    except NotFound:
        return None
    return None


def instant(value: Any) -> datetime | None:
    """An ISO 8601 instant with its offset (Opsgenie writes ``2026-01-05T09:00:00Z``), else None."""
    try:
        return iso_instant(value)
    except ValueError:
        return None


def amount(obj: Any, unit_key: str = "timeUnit", amount_key: str = "timeAmount") -> timedelta | None:
    """Opsgenie's ``{timeAmount, timeUnit}`` (minutes, hours, days) as a timedelta; None if unreadable."""
    data = as_dict(obj)
    n, unit = data.get(amount_key), data.get(unit_key)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 100_000 or not isinstance(unit, str):
        return None
    if unit not in UNITS:
        return None
    return timedelta(minutes=n * UNITS[unit])


def duration_text(value: timedelta) -> str:
    """The shortest exact ops-file duration: 90m, 2h, 3d (0 → 0m)."""
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


@dataclass
class Context:
    """What one import has read so far: names given to Opsgenie ids, and where the result goes."""

    result: ImportResult
    now: datetime
    people: Namer = field(default_factory=lambda: Namer("person"))
    by_username: dict[str, str] = field(default_factory=dict)  # username (e-mail) → user id
    teams: Namer = field(default_factory=lambda: Namer("team"))
    team_members: dict[str, list[str]] = field(default_factory=dict)  # team id → handles
    schedules: Namer = field(default_factory=lambda: Namer("schedule"))
    layers: dict[str, dict[str, str]] = field(default_factory=dict)  # schedule id → rotation id → layer
    services: Namer = field(default_factory=lambda: Namer("service"))
    keys: Namer = field(default_factory=lambda: Namer("key"))  # integrations and heartbeats share names
    seen: set[tuple[str, str]] = field(default_factory=set)

    def first(self, kind: str, source_id: str, name: str) -> bool:
        """True for an object with an id not met before; else a report line and False."""
        if not source_id:
            self.result.skip(kind, "?", name, f"no id in the {kind} response")
            return False
        if (kind, source_id) in self.seen:
            self.result.skip(kind, source_id, name, "the same id twice: the first is kept")
            return False
        self.seen.add((kind, source_id))
        return True

    def person(self, ref: Any) -> str | None:
        """The handle of a ``{id, username}`` reference, or None when that user was not imported."""
        data = as_dict(ref)
        user_id = as_str(data.get("id")) or self.by_username.get(as_str(data.get("username")), "")
        return self.people.get(user_id) if user_id else None

    def note(self, kind: str, source_id: str, name: str) -> None:
        """Remember the name an Opsgenie id became (``.import/report.json``'s ``source_ids``)."""
        self.result.source_ids.setdefault(kind, {})[source_id] = name
