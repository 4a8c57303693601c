"""What the Grafana OnCall modules share: reading list endpoints, checked fields, the import context.

Grafana OnCall's public API (``/api/v1/``) answers every list as ``{count, next, previous,
results}``; saved files keep that shape. A page that is not such an object is an error naming the
endpoint; an item that is not an object, or has no ``id``, is a report line — one bad object never
stops the import of the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commandpost.errors import BadRequest, NotFound, Unauthorized
from commandpost.importers.fields import as_int, known_zone, one_line
from commandpost.importers.names import Namer
from commandpost.importers.result import ImportResult
from commandpost.importers.source import Source

LOCAL = "%Y-%m-%dT%H:%M:%S"
"""The API's date-time format: a wall time with no zone (``start``, ``until``, ``rotation_start``)."""


@dataclass
class Context:
    """The import in progress: the result, the names given so far, and the instant it happens."""

    result: ImportResult
    now: datetime
    people: Namer = field(default_factory=lambda: Namer("person"))
    teams: Namer = field(default_factory=lambda: Namer("team"))
    schedules: Namer = field(default_factory=lambda: Namer("schedule"))
    services: Namer = field(default_factory=lambda: Namer("service"))
    final_layers: dict[str, list[str]] = field(default_factory=dict)  # schedule id → the layers to page
    team_names: dict[str, str] = field(default_factory=dict)  # team id → team name (imported)

    def note(self, kind: str, source_id: str, our_name: str) -> None:
        self.result.source_ids.setdefault(kind, {})[source_id] = our_name


def items(source: Source, endpoint: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
    """Every object of a list endpoint, over all its pages."""
    for page in source.pages(endpoint, params):
        results = page.get("results") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise BadRequest(
                f"/{endpoint}: not a Grafana OnCall list page (an object with a 'results' list expected)"
            )
        yield from results


def optional_items(source: Source, endpoint: str, ctx: Context, why: str) -> list[Any] | None:
    """A list endpoint the import can do without: None (and a report line saying what is missing).

    Refused is missing too: OnCall serves ``personal_notification_rules`` to an OnCall API key only,
    never to a Grafana service-account token (the other lists it serves to both)."""
    try:
        return list(items(source, endpoint))
    except NotFound:
        ctx.result.skip("endpoint", endpoint, endpoint, f"not saved or not available: {why}")
    except Unauthorized:
        reason = "refused to this token (an OnCall API key reads it, a service-account token cannot)"
        ctx.result.skip("endpoint", endpoint, endpoint, f"{reason}: {why}")
    return None


def objects(found: list[Any], ctx: Context, kind: str) -> Iterator[dict[str, Any]]:
    """The well-formed objects of a list (with a string ``id``); a report line for each other one."""
    for i, obj in enumerate(found):
        if isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"]:
            yield obj
        else:
            ctx.result.skip(kind, f"#{i + 1}", "?", "not an object with an 'id'; ignored")


def text(value: Any, default: str = "") -> str:
    """A printable one-line string from the source (control characters and NULs dropped)."""
    if not isinstance(value, str):
        return default
    return one_line(value)[:200] or default


def name_of(obj: dict[str, Any], default: str = "") -> str:
    return text(obj.get("name"), default or text(obj.get("id"), "?"))


def zone(value: Any) -> str | None:
    """An IANA zone name the system knows, else None."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    if value.lower() == "etc/utc":
        return "UTC"
    return value if known_zone(value) else None


def local_time(value: Any) -> datetime | None:
    """A wall time in the API's format, else None (also for years no schedule lives in: arithmetic
    near year 1 or 9999 would overflow)."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.strptime(value, LOCAL)
    except ValueError:
        return None
    return found if 1970 < found.year < 3000 else None


def count(value: Any, most: int) -> int | None:
    """A whole number in 1..``most`` (seconds, an interval), else None — never a bool or a float."""
    whole = as_int(value)
    return whole if 0 < whole <= most else None


def ids(value: Any) -> list[str]:
    """A list of id strings (anything else in it dropped; a non-list is empty)."""
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def position(obj: dict[str, Any]) -> int:
    """An ordered object's ``position`` (steps, rules), 0 when missing."""
    return as_int(obj.get("position"))
