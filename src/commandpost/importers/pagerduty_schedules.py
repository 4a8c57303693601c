"""PagerDuty schedules → commandpost schedules: layers, restriction windows, the final stack, overrides.

PagerDuty's final schedule (docs/migrate.md): within a layer, turn ``k`` of
``rotation_virtual_start + k × rotation_turn_length_seconds`` belongs to ``users[k mod n]``, cut to
the layer's restriction windows and to ``[start, end)``; across layers the higher-numbered one wins
where it has someone. commandpost's layers are rotations on a wall-clock grid, and a ``stack`` layer
is the final schedule. The grid is anchored at the PagerDuty turn running at the import (or the
layer's first turn), so the handoffs after the import are PagerDuty's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commandpost.importers.fields import iso_instant
from commandpost.importers.names import Namer
from commandpost.importers.result import Override
from commandpost.policy.opsfiles import WEEKDAYS

DAY = 86400
WEEK = 7 * DAY
FINAL = "final"
_LAYER_N = re.compile(r"^\s*layer\s+(\d+)\s*$", re.IGNORECASE)


class Unmappable(ValueError):
    """One layer (or restriction) that cannot be carried over; the message is the report's reason."""


@dataclass
class MappedSchedule:
    body: dict[str, Any] | None  # schedules/NAME.yaml, or None: no layer could be mapped
    target_layer: str | None  # what an escalation rule pages: the final stack, or the only layer
    overrides: list[Override] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (layer id, layer name, reason)


def instant(value: Any, what: str) -> datetime:
    """An ISO 8601 time with an offset, as PagerDuty writes them."""
    try:
        return iso_instant(value)
    except ValueError as wrong:
        raise Unmappable(f"{what} {wrong}") from None


def turn_length(seconds: Any) -> str:
    """``rotation_turn_length_seconds`` as a commandpost rotation length."""
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        if seconds == DAY:
            return "daily"
        if seconds == WEEK:
            return "weekly"
        if seconds % DAY == 0:
            return f"{seconds // DAY}d"
        if seconds % 3600 == 0:
            return f"{seconds // 3600}h"
    raise Unmappable(
        f"turn length {seconds!r} s is not whole hours or days "
        "(commandpost rotations are daily, weekly, Nd or Nh)"
    )


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _time_of_day(value: Any) -> time:
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        raise Unmappable(f"restriction start_time_of_day {str(value)[:20]!r} is not HH:MM:SS") from None
    return parsed.replace(microsecond=0, tzinfo=None)


def _plus(start: time, seconds: int) -> time:
    return (datetime.combine(date(2000, 1, 1), start) + timedelta(seconds=seconds)).time()


def restrictions(items: Any) -> list[dict[str, Any]]:
    """PagerDuty restrictions as commandpost windows (on the schedule's wall clock, as in PagerDuty).

    A daily restriction is one window every day; a weekly one (start day, time, up to a week long)
    is a 24-hour window ``HH:MM → HH:MM`` on each whole day it covers and a shorter one on its last
    day. A restriction covering all the time means no restriction."""
    if not items:
        return []
    if not isinstance(items, list):
        raise Unmappable("restrictions is not a list")
    windows: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise Unmappable("a restriction is not an object")
        kind, seconds = item.get("type"), item.get("duration_seconds")
        start = _time_of_day(item.get("start_time_of_day"))
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise Unmappable(f"restriction duration_seconds {seconds!r} is not a positive number")
        if kind == "daily_restriction":
            if seconds > DAY:
                raise Unmappable(f"daily restriction of {seconds} s is longer than a day")
            if seconds == DAY:
                return []
            windows.append({"start": _clock(start), "end": _clock(_plus(start, seconds))})
        elif kind == "weekly_restriction":
            day = item.get("start_day_of_week")
            if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7:
                raise Unmappable(f"weekly restriction start_day_of_week {day!r} is not 1 (Monday) … 7")
            if seconds > WEEK:
                raise Unmappable(f"weekly restriction of {seconds} s is longer than a week")
            if seconds == WEEK:
                return []
            whole, rest = divmod(seconds, DAY)
            if whole:
                days = [WEEKDAYS[(day - 1 + i) % 7][:3] for i in range(whole)]
                windows.append({"days": days, "start": _clock(start), "end": _clock(start)})
            if rest:
                last = WEEKDAYS[(day - 1 + whole) % 7][:3]
                windows.append({"days": [last], "start": _clock(start), "end": _clock(_plus(start, rest))})
        else:
            raise Unmappable(
                f"restriction type {str(kind)[:40]!r} is not daily_restriction or weekly_restriction"
            )
    return windows


def by_precedence(layers: list[Any]) -> tuple[list[Any], str | None]:
    """The layers lowest first (the last wins), and a note when the order had to be assumed.

    PagerDuty numbers layers "Layer 1", "Layer 2" …, the higher number winning; the order of
    ``schedule_layers`` in a response is not documented (GET has listed them highest first), so the
    number in the name decides when every layer has one."""
    numbers = []
    for layer in layers:
        match = _LAYER_N.match(str(layer.get("name", ""))) if isinstance(layer, dict) else None
        numbers.append(int(match.group(1)) if match else None)
    if len(layers) < 2:
        return layers, None
    if None not in numbers and len(set(numbers)) == len(numbers):
        return [
            layer for _, layer in sorted(zip(numbers, layers, strict=True), key=lambda p: p[0] or 0)
        ], None
    return list(reversed(layers)), "layers not all named 'Layer N': read the API's list as highest first"


def map_layer(
    layer: dict[str, Any], *, name: str, tz: ZoneInfo, people: Callable[[str], str | None], now: datetime
) -> tuple[dict[str, Any], Override | None, str | None]:
    """One layer: its commandpost layer, the override for a first turn starting mid-turn, a note."""
    start = instant(layer.get("start"), "start")
    end = None if layer.get("end") is None else instant(layer.get("end"), "end")
    if end is not None and end <= now:
        raise Unmappable(f"ended at {end.isoformat()} (before the import)")
    length_name = turn_length(layer.get("rotation_turn_length_seconds"))
    entries = layer.get("users")
    if not isinstance(entries, list) or not entries:
        raise Unmappable("has no users")
    members: list[str] = []
    for entry in entries:
        user = entry.get("user") if isinstance(entry, dict) else None
        user_id = str(user.get("id", "")) if isinstance(user, dict) else ""
        handle = people(user_id)
        if handle is None:
            raise Unmappable(f"user {user_id[:40]!r} was not imported (see the user lines)")
        members.append(handle)
    windows = restrictions(layer.get("restrictions"))
    virtual_start = instant(layer.get("rotation_virtual_start"), "rotation_virtual_start")
    length = timedelta(seconds=layer["rotation_turn_length_seconds"])
    k = (max(now, start) - virtual_start) // length  # the turn running at the import or at the start
    first = virtual_start + k * length
    override = None
    notes = []
    if start > now and first < start:  # the layer starts in the middle of a turn
        holder = members[k % len(members)]
        k, first = k + 1, first + length
        if windows:  # an override would cover the hours outside the windows too
            notes.append(
                f"starts {start.isoformat()} mid-turn: {holder}'s partial first turn until "
                f"{first.isoformat()} is not imported; add overrides for its hours inside the windows"
            )
        else:
            override = Override("", name, holder, start, first, "PagerDuty: the layer's first, partial turn")
    if end is not None:
        notes.append(
            f"ends {end.isoformat()} in PagerDuty; commandpost layers do not end: remove it from the "
            "file (or change it) then"
        )
    local = first.astimezone(tz)
    shift = k % len(members)
    handoff: dict[str, Any] = {"time": _clock(local.time().replace(microsecond=0)), "timezone": tz.key}
    if length_name == "weekly":
        handoff = {"weekday": WEEKDAYS[local.weekday()], **handoff}
    body: dict[str, Any] = {
        "name": name,
        "rotation": {
            "members": members[shift:] + members[:shift],
            "length": length_name,
            "start": local.date().isoformat(),
            "handoff": handoff,
        },
    }
    if windows:
        body["restrictions"] = windows
    return body, override, "; ".join(notes) or None


def map_schedule(
    detail: dict[str, Any],
    *,
    ordered: list[dict[str, Any]],
    order_note: str | None,
    stem: str,
    people: Callable[[str], str | None],
    now: datetime,
) -> MappedSchedule:
    """A schedule's layers (``ordered`` lowest first) and its final stack when it has more than one."""
    tz = ZoneInfo(str(detail.get("time_zone")))
    names = Namer("layer")
    names.name("\x00final", FINAL)  # a PagerDuty layer named "final" becomes final-2
    mapped: list[dict[str, Any]] = []
    out = MappedSchedule(None, None)
    if order_note:
        out.skipped.append(("", "layer order", order_note))
    for layer in ordered:
        layer_id = str(layer.get("id", ""))
        name = names.name(layer_id or str(id(layer)), str(layer.get("name", "")))
        try:
            body, override, note = map_layer(layer, name=name, tz=tz, people=people, now=now)
        except (Unmappable, KeyError, TypeError, OverflowError) as exc:
            out.skipped.append((layer_id, str(layer.get("name", "")), str(exc)))
            continue
        mapped.append(body)
        if override is not None:
            out.overrides.append(replace(override, schedule=stem))
        if note:
            out.skipped.append((layer_id, str(layer.get("name", "")), note))
    if not mapped:
        return out
    description = " ".join(str(detail.get("description") or "").split())[:500]
    body_layers = list(mapped)
    if len(mapped) > 1:
        body_layers.append({"name": FINAL, "stack": [x["name"] for x in mapped]})
    out.body = {"description": description, "timezone": tz.key, "layers": body_layers}
    out.target_layer = FINAL if len(mapped) > 1 else mapped[0]["name"]
    return out
