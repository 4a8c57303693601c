"""Opsgenie schedules → ``schedules/*.yaml``, their overrides → runtime overrides (docs/migrate.md).

In Opsgenie every rotation of a schedule is on call **at the same time** (the schedule's on-calls
are each rotation's current participant; rotation order only orders the display). commandpost's
layers are independent targets, so each rotation becomes a layer and nothing is stacked; an
escalation rule that targets the schedule pages every layer (:mod:`.opsgenie_routing`).

A rotation turns in the schedule's timezone from its ``startDate``: ``daily``/``weekly``/``hourly``
× ``length``. Its time restrictions open windows on the same wall clock: ``time-of-day`` every day,
``weekday-and-time-of-day`` from one weekday and time to another, cut here into day windows (the
loader merges adjacent ones back).
"""

from __future__ import annotations

from typing import Any

from commandpost.importers.fields import as_int, known_zone
from commandpost.importers.names import Namer
from commandpost.importers.opsgenie_base import (
    Context,
    as_dict,
    as_list,
    as_str,
    instant,
    optional_items,
)
from commandpost.importers.result import Override
from commandpost.importers.source import Source
from commandpost.policy.opsfiles import WEEKDAYS

DAY = 1440
MAX_LENGTH = 1000
"""Turns of at most 1000 days, weeks or hours: far above any real rotation, far below an overflow."""
WEEK = 7 * DAY


def map_schedules(source: Source, ctx: Context, schedules: list[dict[str, Any]]) -> None:
    for schedule in schedules:
        schedule_id, label = as_str(schedule.get("id")), as_str(schedule.get("name"))
        tz = known_zone(schedule.get("timezone"))
        if not ctx.first("schedule", schedule_id, label):
            continue
        if tz is None:
            why = f"time zone {as_str(schedule.get('timezone'))!r} unknown: its handoffs cannot be placed"
            ctx.result.skip("schedule", schedule_id, label, why)
            continue
        if "rotations" not in schedule:
            why = "no rotations in the response: save /v2/schedules?expand=rotation (docs/migrate.md)"
            ctx.result.skip("schedule", schedule_id, label, why)
            continue
        layer_names = Namer("rotation")
        layers: list[dict[str, Any]] = []
        rotation_layers: dict[str, str] = {}
        for position, rotation in enumerate(as_list(schedule.get("rotations"))):
            layer = _layer(ctx, as_dict(rotation), tz.key, label, layer_names, position)
            if layer is not None:
                layers.append(layer)
                rotation_id = as_str(as_dict(rotation).get("id"))
                key = rotation_id if rotation_id and rotation_id not in rotation_layers else f"#{position}"
                rotation_layers[key] = layer["name"]  # every layer, even of a rotation without an id
        if not layers:
            ctx.result.skip(
                "schedule", schedule_id, label, "no rotation could be imported (see the rotation lines)"
            )
            continue
        name = ctx.schedules.name(schedule_id, label)
        ctx.note("schedule", schedule_id, name)
        ctx.layers[schedule_id] = rotation_layers
        body: dict[str, Any] = {"timezone": tz.key, "layers": layers}
        description = as_str(schedule.get("description"))
        if schedule.get("enabled") is False:
            ctx.result.skip(
                "schedule", schedule_id, label, "disabled in Opsgenie: imported, check it is wanted"
            )
        if description:
            body = {"description": description, **body}
        ctx.result.schedules[name] = body
        _overrides(source, ctx, schedule_id, name, label, rotation_layers)


def _layer(
    ctx: Context, rotation: dict[str, Any], tz: str, schedule: str, names: Namer, position: int
) -> dict[str, Any] | None:
    rotation_id = as_str(rotation.get("id")) or "?"
    label = f"{schedule}: {as_str(rotation.get('name')) or rotation_id}"
    start, end = instant(rotation.get("startDate")), instant(rotation.get("endDate"))
    kind, length = rotation.get("type"), as_int(rotation.get("length"), 1)
    if start is None:
        ctx.result.skip("rotation", rotation_id, label, "no readable startDate")
        return None
    if kind not in ("daily", "weekly", "hourly") or not 1 <= length <= MAX_LENGTH:
        ctx.result.skip(
            "rotation",
            rotation_id,
            label,
            f"rotation type {kind!r} × {length}: not daily, weekly or hourly × 1–{MAX_LENGTH}",
        )
        return None
    if end is not None and end <= ctx.now:
        ctx.result.skip("rotation", rotation_id, label, f"ended {end.isoformat()}: not imported")
        return None
    members = _members(ctx, rotation, rotation_id, label)
    if not members:
        ctx.result.skip("rotation", rotation_id, label, "no imported user among its participants")
        return None
    local = start.astimezone(known_zone(tz))
    handoff: dict[str, Any] = {"time": f"{local:%H:%M}", "timezone": tz}
    if kind == "weekly" and length == 1:
        turn = "weekly"
        handoff = {"weekday": WEEKDAYS[local.weekday()], **handoff}
    else:
        turn = {
            "daily": "daily" if length == 1 else f"{length}d",
            "weekly": f"{7 * length}d",
            "hourly": f"{length}h",
        }[str(kind)]
    layer: dict[str, Any] = {
        "name": names.name(str(position), as_str(rotation.get("name"))),
        "rotation": {
            "members": members,
            "length": turn,
            "start": local.date().isoformat(),
            "handoff": handoff,
        },
    }
    restrictions = _restrictions(ctx, as_dict(rotation.get("timeRestriction")), rotation_id, label)
    if restrictions:
        layer["restrictions"] = restrictions
    if end is not None:
        why = f"ends {end.isoformat()} in Opsgenie; a commandpost layer does not end: remove it then"
        ctx.result.skip("rotation_end", rotation_id, label, why)
    return layer


def _members(ctx: Context, rotation: dict[str, Any], rotation_id: str, label: str) -> list[str]:
    """The user participants in order; any other slot is reported, as the turns then shift."""
    members: list[str] = []
    for participant in as_list(rotation.get("participants")):
        data = as_dict(participant)
        kind = as_str(data.get("type"))
        handle = ctx.person(data) if kind == "user" else None
        if handle is not None:
            members.append(handle)
            continue
        who = as_str(data.get("username")) or as_str(data.get("name")) or kind
        why = {
            "user": "not an imported user",
            "none": "an empty slot ('no one') has no equivalent",
            "team": "a team slot (Opsgenie pages the team's routing) has no equivalent",
            "escalation": "an escalation slot has no equivalent",
        }.get(kind, f"participant type {kind!r} unknown")
        ctx.result.skip(
            "rotation_participant",
            rotation_id,
            f"{label}: {who}",
            f"{why}: left out, so the others' turns come round sooner — check the members",
        )
    return members


def _restrictions(
    ctx: Context, restriction: dict[str, Any], rotation_id: str, label: str
) -> list[dict[str, Any]]:
    kind = restriction.get("type")
    if not restriction:
        return []
    if kind == "time-of-day":
        one = as_dict(restriction.get("restriction"))
        return [{"start": _clock(one, "start"), "end": _clock(one, "end")}]
    if kind != "weekday-and-time-of-day":
        ctx.result.skip(
            "restriction", rotation_id, label, f"time restriction type {kind!r} unknown: none imported"
        )
        return []
    by_times: dict[tuple[str, str], list[str]] = {}
    for item in as_list(restriction.get("restrictions")):
        data = as_dict(item)
        if data.get("startDay") not in WEEKDAYS or data.get("endDay") not in WEEKDAYS:
            ctx.result.skip("restriction", rotation_id, label, "a restriction without valid days: left out")
            continue
        for day, start, end in _day_windows(data):
            days = by_times.setdefault((start, end), [])
            if day not in days:
                days.append(day)
    return [
        {"days": sorted(days, key=WEEKDAYS.index), "start": start, "end": end}
        for (start, end), days in by_times.items()
    ]


def _minute(data: dict[str, Any], which: str) -> int:
    return min(max(as_int(data.get(f"{which}Hour")), 0), 23) * 60 + min(
        max(as_int(data.get(f"{which}Min")), 0), 59
    )


def _clock(data: dict[str, Any], which: str) -> str:
    minute = _minute(data, which)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_windows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Monday 09:00 → Friday 17:00 as (day, start, end) windows of at most a day; 00:00–00:00 is all day."""
    lo = WEEKDAYS.index(data["startDay"]) * DAY + _minute(data, "start")
    hi = WEEKDAYS.index(data["endDay"]) * DAY + _minute(data, "end")
    if hi <= lo:
        hi += WEEK
    out = []
    for day in range(lo // DAY, (hi - 1) // DAY + 1):
        a, b = max(lo, day * DAY) - day * DAY, min(hi, (day + 1) * DAY) - day * DAY
        out.append((WEEKDAYS[day % 7], f"{a // 60:02d}:{a % 60:02d}", f"{b // 60 % 24:02d}:{b % 60:02d}"))
    return out


def _overrides(
    source: Source, ctx: Context, schedule_id: str, name: str, label: str, layers: dict[str, str]
) -> None:
    """Current and future overrides as runtime overrides, one per rotation they cover."""
    found = optional_items(source, f"schedules/{schedule_id}/overrides", {"scheduleIdentifierType": "id"})
    if found is None:
        ctx.result.skip("override", schedule_id, label, "overrides not read: add current ones by hand")
        return
    for item in found:
        alias = as_str(item.get("alias")) or "?"
        start, end = instant(item.get("startDate")), instant(item.get("endDate"))
        user = as_dict(item.get("user"))
        person = ctx.person(user) if as_str(user.get("type")) in ("user", "") else None
        if start is None or end is None or end <= start:
            ctx.result.skip("override", alias, label, "no readable startDate/endDate")
            continue
        if end <= ctx.now:
            continue  # history: the past needs no override
        if person is None:
            who = as_str(user.get("username")) or as_str(user.get("name")) or as_str(user.get("type"))
            ctx.result.skip(
                "override",
                alias,
                f"{label}: {who}",
                "not an imported user (team/escalation overrides have no equivalent)",
            )
            continue
        limited = [as_str(as_dict(r).get("id")) for r in as_list(item.get("rotations"))]
        targets = [layers[r] for r in limited if r in layers] if limited else list(layers.values())
        if limited and len(targets) < len(limited):
            ctx.result.skip(
                "override", alias, label, "some of its rotations were not imported: left out for them"
            )
        for layer in targets:
            ctx.result.overrides.append(
                Override(
                    schedule=name,
                    layer=layer,
                    person=person,
                    start=start,
                    end=end,
                    note=f"Opsgenie override {alias}",
                )
            )
