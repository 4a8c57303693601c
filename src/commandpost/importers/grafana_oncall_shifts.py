"""Grafana OnCall schedules and on-call shifts as commandpost schedules (docs/migrate.md, "Grafana OnCall").

A ``calendar`` schedule's shifts repeat on the wall clock of their zone (RFC 5545 recurrence from a
local ``start``); a ``rolling_users`` shift hands each occurrence to the next group of users. Each
shift that commandpost can express exactly becomes a layer: one occurrence per rotation turn, and
an occurrence shorter than its period becomes restriction windows. Where shifts overlap the higher
``level`` wins, which is commandpost's stacked layer: a schedule of more than one shift gets a
``final`` layer stacking them lowest level first, and escalations page that. Current and future
``override`` shifts lie on top of everything: they become runtime overrides of that layer. A
schedule's only shift rotating pairs (groups of one size) is a layer per position, all paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commandpost.importers.fields import as_int
from commandpost.importers.grafana_oncall_base import Context, count, ids, local_time, name_of, text, zone
from commandpost.importers.names import Namer
from commandpost.importers.result import Override
from commandpost.policy.opsfiles import WEEKDAYS

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
"""RFC 5545 weekday names, in Python's weekday() order."""
FREQUENCY = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
DAY = 86400
MAX_DURATION = 366 * DAY
MAX_INTERVAL = 1000
OVERLAP_STEP = timedelta(minutes=15)
OVERLAP_DAYS = 60


@dataclass(frozen=True)
class Plan:
    """A shift as a layer (or one position of it): on call from ``anchor`` (wall clock in ``tz``) on;
    with ``windows`` (weekday, start second of the day, length in seconds) only inside them."""

    shift_id: str
    name: str
    level: int
    tz: str
    anchor: datetime
    windows: tuple[tuple[int, int, int], ...]
    layer: dict[str, Any]

    def covered(self, at: datetime) -> bool:
        """Whether someone of this layer is on call at ``at`` (for the overlap check of one level)."""
        local = at.astimezone(ZoneInfo(self.tz)).replace(tzinfo=None)
        if local < self.anchor:
            return False
        if not self.windows:
            return True
        for weekday, start, length in self.windows:
            for back in range(length // DAY + 2):
                day = local.date() - timedelta(days=back)
                if day.weekday() != weekday:
                    continue
                opens = datetime.combine(day, datetime.min.time()) + timedelta(seconds=start)
                if opens <= local < opens + timedelta(seconds=length):
                    return True
        return False


def map_schedules(ctx: Context, schedules: list[dict[str, Any]], shifts: dict[str, dict[str, Any]]) -> None:
    """Every schedule; then a report line for each shift no schedule lists."""
    listed: set[str] = set()
    for schedule in schedules:
        listed.update(ids(schedule.get("shifts")))
        _schedule(ctx, schedule, shifts)
    for shift_id, shift in shifts.items():
        if shift_id not in listed:
            ctx.result.skip(
                "shift", shift_id, name_of(shift), "in no schedule's 'shifts': nobody is paged by it"
            )


def _schedule(ctx: Context, schedule: dict[str, Any], shifts: dict[str, dict[str, Any]]) -> None:
    sid, name = schedule["id"], name_of(schedule)
    kind = schedule.get("type")
    if kind == "ical":
        url = "an iCal URL" if schedule.get("ical_url_primary") else "an iCal calendar"
        ctx.result.skip(
            "schedule",
            sid,
            name,
            f"an 'ical' schedule: its shifts are events of {url}, which the API does not describe; "
            "write its rotation as layers of schedules/NAME.yaml (compare with GET "
            f"/api/v1/schedules/{sid}/final_shifts for the same weeks)",
        )
        return
    if kind == "web":
        ctx.result.skip(
            "schedule",
            sid,
            name,
            "a 'web' schedule: its rotations are made in the OnCall UI and not listed as shifts by the "
            f"public API; rebuild it as layers, checking against GET /api/v1/schedules/{sid}/final_shifts",
        )
        return
    if kind != "calendar":
        ctx.result.skip("schedule", sid, name, f"unknown schedule type {text(kind, '(none)')!r}")
        return
    if schedule.get("ical_url_overrides"):
        ctx.result.skip(
            "schedule",
            sid,
            name,
            "overrides from an iCal URL (ical_url_overrides) are not read: add the current ones with "
            "commandpost override add",
        )
    own_zone = zone(schedule.get("time_zone")) or "UTC"
    layer_names = Namer("layer")
    layer_names.name("\0final", "final")
    plans: list[Plan] = []
    overrides: list[dict[str, Any]] = []
    listed = [shifts.get(shift_id) for shift_id in ids(schedule.get("shifts"))]
    alone = sum(1 for shift in listed if shift is not None and shift.get("type") != "override") == 1
    for shift_id, shift in zip(ids(schedule.get("shifts")), listed, strict=True):
        if shift is None:
            ctx.result.skip("shift", shift_id, "?", f"schedule {name!r} lists a shift the API did not return")
        elif shift.get("type") == "override":
            overrides.append(shift)
        else:
            plans.extend(_plans(ctx, shift, own_zone, layer_names, alone=alone))
    if not plans:
        ctx.result.skip("schedule", sid, name, "none of its shifts could be mapped (see the shift lines)")
        return
    windowed = [p.tz for p in plans if p.windows]
    tz = max(windowed, key=windowed.count) if windowed else own_zone
    for plan in [p for p in plans if p.windows and p.tz != tz]:
        plans.remove(plan)
        ctx.result.skip(
            "shift",
            plan.shift_id,
            plan.name,
            f"hours in {plan.tz}, while other shifts of {name!r} have hours in {tz}: commandpost's "
            "restriction windows are on one wall clock per schedule; make it a schedule of its own",
        )
    plans.sort(key=lambda p: p.level)
    layers = [p.layer for p in plans]
    targets = [layer["name"] for layer in layers]
    if len({p.shift_id for p in plans}) > 1:
        targets = ["final"]
        layers.append({"name": "final", "stack": [p.layer["name"] for p in plans]})
        _report_overlaps(ctx, name, plans)
    slug = ctx.schedules.name(sid, name)
    ctx.note("schedule", sid, slug)
    ctx.final_layers[sid] = targets
    ctx.result.schedules[slug] = {
        "description": f"Imported from Grafana OnCall schedule {name!r} ({sid}).",
        "timezone": tz,
        "layers": layers,
    }
    for shift in overrides:
        if len(targets) > 1:
            ctx.result.skip(
                "override",
                shift["id"],
                name_of(shift),
                f"{name!r} pages {len(targets)} people at once (layers {', '.join(targets)}): say whose turn "
                "it takes with commandpost override add --layer",
            )
        else:
            _override(ctx, shift, slug, targets[0], own_zone)


def _plans(ctx: Context, shift: dict[str, Any], own_zone: str, names: Namer, *, alone: bool) -> list[Plan]:
    """The shift as a layer — or, when it is its schedule's one shift and every turn has the same
    number of people, as one layer per position in the turn; none, and a report line, when it
    cannot be mapped exactly."""
    sid, name = shift["id"], name_of(shift)

    def skip(reason: str) -> list[Plan]:
        ctx.result.skip("shift", sid, name, reason)
        return []

    kind = shift.get("type")
    tz = zone(shift.get("time_zone")) if shift.get("time_zone") is not None else own_zone
    if tz is None:
        return skip(f"unknown time zone {text(shift.get('time_zone'))!r}")
    start, duration = local_time(shift.get("start")), count(shift.get("duration"), MAX_DURATION)
    if start is None or duration is None:
        return skip("no valid 'start' (yyyy-MM-ddTHH:mm:ss) and 'duration' (seconds, at most a year)")
    now = ctx.now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    if kind == "single_event":
        ended = start + timedelta(seconds=duration) <= now
        return skip(
            "a one-off event that has ended"
            if ended
            else "a one-off event: add it with commandpost override add"
        )
    if kind == "rolling_users":
        raw = shift.get("rolling_users")
        groups = [ids(g) for g in raw] if isinstance(raw, list) else []
        groups = [g for g in groups if g]
        first = shift.get("start_rotation_from_user_index")
        if isinstance(first, int) and 0 < first < len(groups):
            groups = groups[first:] + groups[:first]
    elif kind == "recurrent_event":
        groups = [ids(shift.get("users"))] if ids(shift.get("users")) else []
    else:
        return skip(f"shift type {text(kind, '(none)')!r} is not mapped")
    if not groups:
        return skip("nobody is on call in it (no users)")
    crowded = next((g for g in groups if len(g) > 1), None)
    if crowded is not None and not (alone and len({len(g) for g in groups}) == 1):
        return skip(
            f"several people on call at once ({', '.join(crowded)}): a commandpost layer has one person at a "
            "time, and a stack pages one; exact only as its schedule's one shift with turns of one size "
            "(then a layer per position)"
        )
    unknown = next((user for group in groups for user in group if ctx.people.get(user) is None), None)
    if unknown is not None:
        return skip(f"names user {unknown}, who is not among the users read")
    positions = [[ctx.people.get(group[p]) or "" for group in groups] for p in range(len(groups[0]))]
    frequency = shift.get("frequency") if isinstance(shift.get("frequency"), str) else None
    interval = count(shift.get("interval") or 1, MAX_INTERVAL)
    if frequency not in FREQUENCY or interval is None:
        why = "monthly turns (commandpost rotations are a fixed length)" if frequency == "monthly" else None
        return skip(why or f"no mappable frequency ({text(frequency, 'none')!r}, every {interval or '?'})")
    until = local_time(shift.get("until"))
    if until is not None and until <= now:
        return skip(f"ended on {until:%Y-%m-%d %H:%M} ({tz})")
    if shift.get("by_month") or shift.get("by_monthday"):
        return skip("limited to months or days of the month (by_month/by_monthday): no commandpost match")
    shape = _shape(shift, start, frequency, interval, duration, len(groups), now)
    if isinstance(shape, str):
        return skip(shape)
    anchor, weekday, windows = shape
    if until is not None:
        ctx.result.skip(
            "shift",
            sid,
            name,
            f"ends on {until:%Y-%m-%d %H:%M} ({tz}); commandpost rotations do not end: remove the layer then",
        )
    length = {"hourly": f"{interval}h", "daily": f"{interval}d", "weekly": f"{7 * interval}d"}[frequency]
    length = {"1d": "daily", "7d": "weekly"}.get(length, length)
    handoff: dict[str, Any] = {"time": _clock(anchor.hour * 3600 + anchor.minute * 60 + anchor.second)}
    if weekday is not None:
        handoff["weekday"] = WEEKDAYS[weekday]
    handoff["timezone"] = tz
    level = shift.get("level")
    plans = []
    for p, members in enumerate(positions):
        layer: dict[str, Any] = {
            "name": names.name(f"{sid}#{p}", name if len(positions) == 1 else f"{name} {p + 1}"),
            "rotation": {
                "members": members,
                "length": length,
                "start": (anchor.date() if weekday is None else _week_start(anchor, weekday)).isoformat(),
                "handoff": dict(handoff),
            },
        }
        if windows:
            layer["restrictions"] = restrictions(windows)
        plans.append(
            Plan(
                sid,
                name,
                as_int(level),
                tz,
                anchor,
                tuple(windows),
                layer,
            )
        )
    return plans


Shape = tuple[datetime, int | None, list[tuple[int, int, int]]]


def _shape(
    shift: dict[str, Any],
    start: datetime,
    frequency: str,
    interval: int,
    duration: int,
    n: int,
    now: datetime,
) -> Shape | str:
    """(first handoff, its weekday when turns start on a weekday, windows) — or why it cannot be mapped."""
    period = FREQUENCY[frequency] * interval
    length = timedelta(seconds=duration)
    clock = start.hour * 3600 + start.minute * 60 + start.second
    raw_days = shift.get("by_day")
    by_day = [DAYS.index(d) for d in raw_days if d in DAYS] if isinstance(raw_days, list) else []
    if not by_day:
        if length > period:
            return "occurrences overlap (duration longer than the period): several people on call at once"
        anchor = start
        rotation_start = local_time(shift.get("rotation_start"))
        if rotation_start is not None and rotation_start > start:
            anchor = start + -((start - rotation_start) // period) * period
        if length == period:
            return anchor, None, []
        if interval == 1 and frequency == "daily":
            return anchor, None, [(day, clock, duration) for day in range(7)]
        if interval == 1 and frequency == "weekly":
            return anchor, None, [(start.weekday(), clock, duration)]
        return (
            f"{duration // 60} min on call every {interval} {frequency.removesuffix('ly')}(s): "
            "restriction windows repeat daily or weekly only"
        )
    if frequency == "daily" and interval == 1 and n == 1:
        return start, None, [(day, clock, duration) for day in sorted(set(by_day))]
    if frequency != "weekly" or interval != 1:
        return (
            f"{frequency} every {interval} on chosen days (by_day) with {n} people taking turns: commandpost "
            "rotations turn by time, not by occurrence"
        )
    if local_time(shift.get("rotation_start")) not in (None, start):
        return "turns start at a 'rotation_start' after 'start' on chosen days (by_day): not mapped"
    week_start = DAYS.index(shift["week_start"]) if shift.get("week_start") in DAYS else DAYS.index("SU")
    order = sorted(set(by_day), key=lambda d: (d - week_start) % 7)
    first = order[0]
    if start.weekday() not in by_day:  # Grafana moves the first turn to the first chosen day of a week
        start += timedelta(days=(first - start.weekday()) % 7)
    offsets = [((d - first) % 7) * DAY + clock for d in order]
    if n > 1 and max(offsets) + duration > 7 * DAY + clock:
        return "an occurrence runs into the next week's turn (another person's): not mapped"
    handoff = datetime.combine(_week_start(start, first), start.time())
    if start > handoff and start > now:
        return "starts in the middle of a week in the future: the first week's turn would begin early"
    return handoff, first, [(d, clock, duration) for d in order]


def _week_start(day: datetime, weekday: int) -> Any:
    """The date of ``weekday`` on or before ``day``."""
    return day.date() - timedelta(days=(day.weekday() - weekday) % 7)


def _clock(seconds: int) -> str:
    seconds %= DAY
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def restrictions(windows: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Occurrence windows (weekday, start second, length) as commandpost restrictions, one per
    (start, end) with its days. A window under a day is one restriction (an end before the start
    runs past midnight); a longer one is cut into whole days from its start, then the rest."""
    pieces: dict[tuple[int, int], set[int]] = {}
    for weekday, start, length in windows:
        day, left = weekday, length
        while left > 0:
            take = min(left, DAY)
            pieces.setdefault((start, (start + take) % DAY), set()).add(day % 7)
            day, left = day + 1, left - take
    return [
        {"days": [WEEKDAYS[d] for d in sorted(days)], "start": _clock(start), "end": _clock(end)}
        for (start, end), days in sorted(pieces.items())
    ]


def _report_overlaps(ctx: Context, schedule: str, plans: list[Plan]) -> None:
    """Shifts of one level that overlap: Grafana pages all of them, commandpost's stack one."""
    for i, low in enumerate(plans):
        for high in plans[i + 1 :]:
            if high.level != low.level:
                continue
            at = ctx.now
            while at < ctx.now + timedelta(days=OVERLAP_DAYS):
                if low.covered(at) and high.covered(at):
                    ctx.result.skip(
                        "shift",
                        high.shift_id,
                        high.name,
                        f"overlaps {low.name!r} at the same level {high.level} of {schedule!r} (first at "
                        f"{at:%Y-%m-%d %H:%M} UTC): Grafana pages both there, the final layer pages "
                        f"{high.name!r}'s person",
                    )
                    break
                at += OVERLAP_STEP


def _override(ctx: Context, shift: dict[str, Any], schedule: str, layer: str, own_zone: str) -> None:
    """A current or future override shift as a runtime override of the layer escalations page."""
    sid, name = shift["id"], name_of(shift)
    tz = zone(shift.get("time_zone")) or own_zone
    start, duration = local_time(shift.get("start")), count(shift.get("duration"), MAX_DURATION)
    if start is None or duration is None:
        ctx.result.skip("override", sid, name, "no valid 'start' and 'duration'")
        return
    begins = start.replace(tzinfo=ZoneInfo(tz)).astimezone(ctx.now.tzinfo)
    ends = (start + timedelta(seconds=duration)).replace(tzinfo=ZoneInfo(tz)).astimezone(ctx.now.tzinfo)
    if ends <= ctx.now:
        ctx.result.skip("override", sid, name, f"ended on {ends:%Y-%m-%d %H:%M} UTC")
        return
    users, raw = ids(shift.get("users")), shift.get("rolling_users")
    if not users and isinstance(raw, list):  # overrides made in the web UI keep their user here
        users = [user for group in raw for user in ids(group)]
    if len(users) != 1:
        ctx.result.skip("override", sid, name, f"{len(users)} people at once: an override has one person")
        return
    person = ctx.people.get(users[0])
    if person is None:
        ctx.result.skip("override", sid, name, f"names user {users[0]}, who is not among the users read")
        return
    ctx.result.overrides.append(
        Override(schedule, layer, person, begins, ends, f"Grafana OnCall override {name}")
    )
