"""Who is on call when: rotations, restrictions and overrides as pure functions of their inputs.

The time rules (docs/oncall.md, "Handoffs"):

- Handoffs are computed on the **local wall clock** of the handoff timezone: the first
  handoff is ``start`` (moved forward to ``handoff.weekday`` if one is set) at
  ``handoff.time``; every later one is ``length`` further on the wall clock. So a weekly
  Monday 10:00 Europe/Berlin handoff is 10:00 in winter and in summer, and a ``12h``
  rotation hands off at 10:00 and 22:00 local all year.
- A wall time that does not exist (spring forward, e.g. 02:30 America/New_York on
  2026-03-08) is read with the offset before the gap, as RFC 5545 §3.3.5 says: it happens
  at 03:30 local, the gap's length later. A wall time that happens twice (fall back) is the
  first of the two. Both are what ``zoneinfo`` does with ``fold=0``.
- Restriction windows are on the wall clock of the schedule's timezone; outside every
  window the layer has nobody. A window whose end is not after its start runs past midnight.
- Overrides cover their whole interval (restrictions or not); where overrides overlap, the
  one created last wins.
- A stacked layer (``stack: [...]``) has, at every instant, the person of the last listed layer
  that has someone then (each with its restrictions and overrides), else the one before, …;
  nobody if none. Overrides of the stack itself lie over that (:func:`stack_shifts`).
- A layer's rotation is a list of :class:`Epoch`\\ s: each says "from this instant, with this
  rotation definition, the shift containing the instant goes to ``members[member_index]``".
  :func:`rebase` adds one when the definition changes, so a YAML change never reshuffles who
  is on call now (see its docstring).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from commandpost.errors import ValidationFailed
from commandpost.policy.opsfiles import WEEKDAYS, Layer, Restriction, Rotation

MAX_SEGMENTS = 20_000
"""Refuse to compute more shifts than this for one layer (a '1m' rotation over a year)."""

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Epoch:
    """From ``effective_from`` on, ``rotation`` decides, and its shift containing that instant is
    ``members[member_index]``'s (the shift is cut to start at ``effective_from``)."""

    effective_from: datetime
    rotation: Rotation
    member_index: int = 0


@dataclass(frozen=True)
class OverrideSpan:
    """An override as the rules see it; ``id`` orders them (a higher id was created later)."""

    id: int
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Segment:
    person: str
    start: datetime
    end: datetime
    override_id: int | None = None
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shift:
    """One person on call for one layer of one schedule over [start, end)."""

    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime
    override_id: int | None = None
    via: tuple[str, ...] = ()
    """A stacked layer's shift: the layers its person came from, in time order (empty for a rotation
    layer's shift and for an override of the stack itself)."""

    @property
    def by_override(self) -> bool:
        return self.override_id is not None

    @property
    def uid(self) -> str:
        """Stable while the shift's layer, person and start stay the same (iCal UID)."""
        raw = f"{self.schedule}|{self.layer}|{self.person}|{self.start.isoformat()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class OnCallNow:
    """One layer at one instant: its shift, or None when nobody is on call (restricted or not started)."""

    schedule: str
    layer: str
    shift: Shift | None


@dataclass(frozen=True)
class Handoff:
    schedule: str
    layer: str
    at: datetime
    outgoing: str
    incoming: str


# ------------------------------------------------------------------ wall clock → instants


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in ``tz`` as a UTC instant (gap: offset before it; overlap: first occurrence)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _first_local(rotation: Rotation) -> datetime:
    day = rotation.start
    if rotation.handoff.weekday:
        day += timedelta(days=(WEEKDAYS.index(rotation.handoff.weekday) - day.weekday()) % 7)
    return datetime.combine(day, rotation.handoff.time)


def boundary(rotation: Rotation, k: int) -> datetime:
    """The instant the rotation's ``k``-th shift starts (k = 0 is the first handoff)."""
    return to_utc(_first_local(rotation) + k * rotation.turn(), ZoneInfo(rotation.handoff.timezone))


def index_at(rotation: Rotation, at: datetime) -> int:
    """The index of the rotation's shift containing ``at``; -1 before the first handoff."""
    tz = ZoneInfo(rotation.handoff.timezone)
    local = at.astimezone(tz).replace(tzinfo=None)
    k = max((local - _first_local(rotation)) // rotation.turn(), -1)
    # The wall-clock estimate can be one off around a DST transition; settle on the exact instants.
    while k >= 0 and boundary(rotation, k) > at:
        k -= 1
    while boundary(rotation, k + 1) <= at:
        k += 1
    return k


def initial_epoch(rotation: Rotation) -> Epoch:
    return Epoch(boundary(rotation, 0), rotation, 0)


# ------------------------------------------------------------------ the rotation alone


def rotation_segments(epochs: Sequence[Epoch], start: datetime, end: datetime) -> list[Segment]:
    """Whole rotation shifts overlapping [start, end), each cut only where an epoch begins or ends."""
    segments: list[Segment] = []
    ordered = sorted(epochs, key=lambda e: e.effective_from)
    for i, epoch in enumerate(ordered):
        until = ordered[i + 1].effective_from if i + 1 < len(ordered) else None
        segments.extend(_epoch_segments(epoch, until, start, end))
    return segments


def _epoch_segments(epoch: Epoch, until: datetime | None, start: datetime, end: datetime) -> list[Segment]:
    rotation = epoch.rotation
    hi = min(end, until) if until else end
    if max(start, epoch.effective_from) >= hi:
        return []
    anchor = max(index_at(rotation, epoch.effective_from), 0)
    k = max(index_at(rotation, max(start, epoch.effective_from)), anchor)
    members, out = rotation.members, list[Segment]()
    while True:
        seg_start = max(boundary(rotation, k), epoch.effective_from)
        if seg_start >= hi:
            return out
        seg_end = boundary(rotation, k + 1)
        if until is not None:
            seg_end = min(seg_end, until)
        if seg_end > seg_start:
            person = members[(epoch.member_index + k - anchor) % len(members)]
            out.append(Segment(person, seg_start, seg_end))
            if len(out) > MAX_SEGMENTS:
                raise ValidationFailed(
                    f"more than {MAX_SEGMENTS} shifts of length {rotation.length} in the range "
                    f"{start.isoformat()} – {end.isoformat()}; ask for a shorter range"
                )
        k += 1


# ------------------------------------------------------------------ restrictions


def restriction_windows(
    restrictions: Iterable[Restriction], timezone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The merged instants, overlapping [start, end), when some restriction window is open."""
    tz = ZoneInfo(timezone)
    day: date = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    windows = []
    while day <= last:
        for r in restrictions:
            if WEEKDAYS[day.weekday()] not in r.days:
                continue
            end_day = day if r.end > r.start else day + timedelta(days=1)
            w_start = to_utc(datetime.combine(day, r.start), tz)
            w_end = to_utc(datetime.combine(end_day, r.end), tz)
            if w_end > w_start and w_end > start and w_start < end:
                windows.append((w_start, w_end))
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for w_start, w_end in sorted(windows):
        if merged and w_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], w_end))
        else:
            merged.append((w_start, w_end))
    return merged


def restrict(segments: Sequence[Segment], windows: Sequence[tuple[datetime, datetime]]) -> list[Segment]:
    out = []
    for seg in segments:
        for w_start, w_end in windows:
            s, e = max(seg.start, w_start), min(seg.end, w_end)
            if s < e:
                out.append(replace(seg, start=s, end=e))
    return out


# ------------------------------------------------------------------ overrides


def paint(segments: Sequence[Segment], overrides: Iterable[OverrideSpan]) -> list[Segment]:
    """Lay overrides over the timeline in creation order: a later override wins where they overlap."""
    timeline = sorted(segments, key=lambda s: s.start)
    for o in sorted(overrides, key=lambda o: o.id):
        if o.end <= o.start:
            continue
        kept = []
        for seg in timeline:
            if seg.end <= o.start or seg.start >= o.end:
                kept.append(seg)
                continue
            if seg.start < o.start:
                kept.append(replace(seg, end=o.start))
            if seg.end > o.end:
                kept.append(replace(seg, start=o.end))
        kept.append(Segment(o.person, o.start, o.end, o.id))
        timeline = sorted(kept, key=lambda s: s.start)
    return timeline


# ------------------------------------------------------------------ one layer


def layer_shifts(
    *,
    schedule: str,
    layer: Layer,
    timezone: str,
    epochs: Sequence[Epoch],
    overrides: Iterable[OverrideSpan],
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """The layer's shifts overlapping [start, end): rotation, then restrictions, then overrides."""
    if end <= start:
        raise ValidationFailed(f"the range end {end.isoformat()} is not after its start {start.isoformat()}")
    if layer.rotation is None:
        raise ValidationFailed(f"layer '{layer.name}' is a stack: its shifts come from stack_shifts")
    segments = rotation_segments(epochs or [initial_epoch(layer.rotation)], start, end)
    if layer.restrictions and segments:
        lo, hi = min(segments[0].start, start), max(segments[-1].end, end)
        segments = restrict(segments, restriction_windows(layer.restrictions, timezone, lo, hi))
    return [
        Shift(schedule, layer.name, seg.person, seg.start, seg.end, seg.override_id)
        for seg in paint(segments, overrides)
        if seg.start < end and seg.end > start
    ]


def stack_shifts(
    *,
    schedule: str,
    layer: str,
    stacked: Sequence[tuple[str, Sequence[Shift]]],
    overrides: Iterable[OverrideSpan],
    start: datetime,
    end: datetime,
    window: tuple[datetime, datetime],
) -> list[Shift]:
    """A stacked layer's shifts overlapping [start, end).

    ``stacked`` is (layer name, that layer's shifts) lowest first, each computed over ``window``
    (which contains [start, end)): at every instant the last layer with a shift wins. The result is
    cut to ``window`` — outside it the layers beneath are unknown — and adjacent pieces of the same
    person (and the same override, or none) are one shift, whichever layers they came from. The
    stack's own overrides are laid over the result as on any layer.
    """
    if end <= start:
        raise ValidationFailed(f"the range end {end.isoformat()} is not after its start {start.isoformat()}")
    lo, hi = window
    timelines = [(name, sorted(shifts, key=lambda s: s.start)) for name, shifts in stacked]
    cuts = {lo, hi}
    for _name, shifts in timelines:
        cuts.update(t for shift in shifts for t in (shift.start, shift.end) if lo < t < hi)
    ordered = sorted(cuts)
    positions = [0] * len(timelines)
    merged: list[Segment] = []
    for a, b in pairwise(ordered):
        winner: tuple[str, Shift] | None = None
        for i, (name, shifts) in enumerate(timelines):
            while positions[i] < len(shifts) and shifts[positions[i]].end <= a:
                positions[i] += 1
            if positions[i] < len(shifts) and shifts[positions[i]].start <= a:
                winner = (name, shifts[positions[i]])
        if winner is None:
            continue
        name, shift = winner
        last = merged[-1] if merged else None
        if last and last.end == a and (last.person, last.override_id) == (shift.person, shift.override_id):
            via = last.via if name in last.via else (*last.via, name)
            merged[-1] = replace(last, end=b, via=via)
        else:
            merged.append(Segment(shift.person, a, b, shift.override_id, (name,)))
    return [
        Shift(schedule, layer, seg.person, seg.start, seg.end, seg.override_id, seg.via)
        for seg in paint(merged, overrides)
        if seg.start < end and seg.end > start
    ]


def person_at(shifts: Iterable[Shift], at: datetime) -> Shift | None:
    return next((s for s in shifts if s.start <= at < s.end), None)


def handoffs(shifts: Sequence[Shift], start: datetime, end: datetime) -> list[Handoff]:
    """Instants in [start, end) where the layer passes from one person to a different one.

    A stretch with nobody (outside restriction windows) is not a handoff: X → nobody → X is
    none, X → nobody → Y is one, at Y's start. ``shifts`` must be one layer's, and reach
    back far enough to know who held it before ``start``.
    """
    out = []
    last: str | None = None
    for shift in sorted(shifts, key=lambda s: s.start):
        if last is not None and shift.person != last and start <= shift.start < end:
            out.append(Handoff(shift.schedule, shift.layer, shift.start, last, shift.person))
        last = shift.person
    return out


# ------------------------------------------------------------------ members change without a reshuffle


def rebase(epochs: Sequence[Epoch], rotation: Rotation, now: datetime) -> list[Epoch]:
    """The layer's epochs once its rotation definition becomes ``rotation`` at ``now``.

    - Epochs starting after ``now`` (changes still pending) are dropped: the newest definition wins.
    - If the definition in effect at ``now`` already equals ``rotation``: nothing else changes.
    - Nobody on call yet (the rotation has not started): ``rotation`` starts afresh.
    - Otherwise the person on call now keeps the shift until it ends; from that instant
      ``rotation`` continues with the member after them in the NEW list, or — if they were
      removed — with the first member after them in the old list who is still in the new one.
    """
    ordered = sorted(epochs, key=lambda e: e.effective_from)
    kept = [e for e in ordered if e.effective_from <= now]
    if not kept:
        return [initial_epoch(rotation)]
    if kept[-1].rotation == rotation:
        return kept
    current = next((s for s in rotation_segments(kept, now, now + _TICK) if s.start <= now < s.end), None)
    if current is None:
        return [*kept, Epoch(now, rotation, 0)]
    old, new = kept[-1].rotation.members, rotation.members
    position = _position(kept[-1], current.start)
    return [*kept, Epoch(current.end, rotation, _next_member(old, position, new))]


def _position(epoch: Epoch, shift_start: datetime) -> int:
    """The index in ``epoch``'s members of the person whose shift starts at ``shift_start``."""
    rotation = epoch.rotation
    anchor = max(index_at(rotation, epoch.effective_from), 0)
    return (epoch.member_index + index_at(rotation, shift_start) - anchor) % len(rotation.members)


def _next_member(old: Sequence[str], position: int, new: Sequence[str]) -> int:
    if list(old) == list(new):
        return (position + 1) % len(new)
    person = old[position]
    if person in new:
        return (list(new).index(person) + 1) % len(new)
    for step in range(1, len(old)):
        candidate = old[(position + step) % len(old)]
        if candidate in new:
            return list(new).index(candidate)
    return 0
