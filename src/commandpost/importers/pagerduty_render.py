"""PagerDuty's final schedule read from a schedule's layers, to check an import against the one
PagerDuty rendered (``final_schedule.rendered_schedule_entries`` of ``GET /schedules/ID``).

The reading is PagerDuty's documented one: inside a layer's ``[start, end)`` and its restriction
windows, turn ``k = ⌊(t − rotation_virtual_start) / turn length⌋`` is ``users[k mod n]``'s; the
last layer (highest) with someone wins. Where it and PagerDuty's rendering disagree, the import says
so instead of guessing (docs/migrate.md, "Layer order").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commandpost.importers.pagerduty_schedules import Unmappable, by_precedence, instant


def _inside(restriction: dict[str, Any], tz: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(tz)
    opens_at = time.fromisoformat(str(restriction["start_time_of_day"]))
    length = timedelta(seconds=int(restriction["duration_seconds"]))
    if restriction.get("type") == "weekly_restriction":
        back = (local.isoweekday() - int(restriction["start_day_of_week"])) % 7
        first = local.date() - timedelta(days=back)
        days = [first, first - timedelta(days=7)]
    else:
        days = [local.date(), local.date() - timedelta(days=1)]
    for day in days:
        opens = datetime.combine(day, opens_at, tzinfo=tz)
        if opens <= at < opens + length:
            return True
    return False


def user_at(layers: Sequence[dict[str, Any]], tz: ZoneInfo, at: datetime) -> str | None:
    """The PagerDuty user id on call at ``at`` by the layers (lowest first), overrides aside."""
    for layer in reversed(layers):
        end = layer.get("end")
        if at < instant(layer.get("start"), "start") or (end is not None and at >= instant(end, "end")):
            continue
        windows = layer.get("restrictions") or []
        if windows and not any(_inside(r, tz, at) for r in windows):
            continue
        turn = (at - instant(layer.get("rotation_virtual_start"), "rotation_virtual_start")) // timedelta(
            seconds=int(layer["rotation_turn_length_seconds"])
        )
        users = layer["users"]
        return str(users[turn % len(users)]["user"]["id"])
    return None


@dataclass(frozen=True)
class Comparison:
    compared: int
    differing: int
    first: str = ""  # the first difference, for the report


def compare(detail: dict[str, Any], layers: Sequence[dict[str, Any]], now: datetime) -> Comparison:
    """The layers' reading against PagerDuty's rendered final schedule, at the start and middle of
    each rendered entry not before ``now`` and not under an override. Nothing rendered: nothing
    compared."""
    entries = _rendered(detail, "final_schedule")
    overrides = _rendered(detail, "overrides_subschedule")
    tz = ZoneInfo(str(detail.get("time_zone")))
    compared = differing = 0
    first = ""
    try:
        for user, start, end in entries:
            for at in (start, start + (end - start) / 2):
                if at < now or any(o_start <= at < o_end for _, o_start, o_end in overrides):
                    continue
                compared += 1
                layered = user_at(layers, tz, at)
                if layered != user:
                    differing += 1
                    first = first or f"at {at.isoformat()} PagerDuty shows {user}, the layers {layered}"
    except (Unmappable, KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return Comparison(0, 0)
    return Comparison(compared, differing, first)


def _rendered(detail: dict[str, Any], key: str) -> list[tuple[str, datetime, datetime]]:
    sub = detail.get(key)
    entries = sub.get("rendered_schedule_entries") if isinstance(sub, dict) else None
    out = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            user = entry["user"]["id"]
            out.append((str(user), instant(entry.get("start"), "start"), instant(entry.get("end"), "end")))
        except (Unmappable, KeyError, TypeError):
            continue
    return out


def layer_order(detail: dict[str, Any], now: datetime) -> tuple[list[dict[str, Any]], str | None]:
    """The layers lowest first, and how the order was decided when the names did not decide it.

    Layers named "Layer N" are ordered by N. Otherwise the order PagerDuty rendered decides: the
    API's list read highest first (as GET has listed it) or lowest first, whichever reproduces the
    final schedule; with nothing rendered, highest first, and the report says it was assumed."""
    raw = detail.get("schedule_layers")
    layers = [x for x in raw if isinstance(x, dict)] if isinstance(raw, list) else []
    ordered, note = by_precedence(layers)
    if note is None:
        return ordered, None
    for candidate, reading in ((ordered, "highest first"), (layers, "lowest first")):
        found = compare(detail, candidate, now)
        if found.compared and not found.differing:
            return candidate, (
                f"layers not all named 'Layer N': the API's list read {reading}, which reproduces "
                "PagerDuty's rendered final schedule"
            )
    return ordered, note
