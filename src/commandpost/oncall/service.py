"""On-call use cases: who is on call, shifts, handoffs, overrides, and keeping rotations in place
when the YAML changes. Services take a session and ``now``; they flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from commandpost.errors import NotFound, ValidationFailed
from commandpost.oncall import rules
from commandpost.oncall.models import Override, RotationAnchor
from commandpost.oncall.rules import Epoch, Handoff, OnCallNow, OverrideSpan, Shift
from commandpost.policy.models import OpsRevision
from commandpost.policy.opsfiles import Layer, OpsConfig, Rotation, Schedule

MAX_RANGE = timedelta(days=366)
STACK_REACH = timedelta(days=60)
"""How far past a range a stacked layer's shifts are followed to find where they start and end."""


def _lookback(schedule: Schedule, layer: Layer) -> timedelta:
    """How far back to look to know who held a layer before an instant: two turns (a stack's longest
    layer's), and at least 8 days so a weekend or a week outside restriction windows is bridged."""
    return max(2 * schedule.turn(layer), timedelta(days=8))


def _names(values: Sequence[str]) -> str:
    return ", ".join(values) or "none"


def find_layer(config: OpsConfig, schedule: str, layer: str) -> tuple[Schedule, Layer]:
    """The schedule and layer, or ValidationFailed naming the valid ones (for request bodies)."""
    found = config.schedule(schedule)
    if found is None:
        raise ValidationFailed(
            f"unknown schedule '{schedule}' (schedules: {_names([s.name for s in config.schedules])})"
        )
    for candidate in found.layers:
        if candidate.name == layer:
            return found, candidate
    raise ValidationFailed(
        f"schedule '{schedule}' has no layer '{layer}' (layers: {_names([x.name for x in found.layers])})"
    )


def get_schedule(config: OpsConfig, name: str) -> Schedule:
    found = config.schedule(name)
    if found is None:
        raise NotFound(
            f"no schedule named '{name}' (schedules: {_names([s.name for s in config.schedules])})"
        )
    return found


def check_range(start: datetime, end: datetime, *, limit: timedelta = MAX_RANGE) -> None:
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise ValidationFailed(f"'{name}' {value.isoformat()} has no timezone; add Z or an offset")
    if end <= start:
        raise ValidationFailed(f"'to' {end.isoformat()} is not after 'from' {start.isoformat()}")
    if end - start > limit:
        raise ValidationFailed(
            f"the range is {(end - start).days} days; at most {limit.days} days per request"
        )


# ------------------------------------------------------------------ reads


def _epochs(session: Session, schedule: str, layer: str) -> list[Epoch]:
    rows = session.scalars(
        select(RotationAnchor)
        .where(RotationAnchor.schedule == schedule, RotationAnchor.layer == layer)
        .order_by(RotationAnchor.effective_from)
    )
    return [Epoch(r.effective_from, Rotation.model_validate(r.rotation), r.member_index) for r in rows]


def _overrides(
    session: Session, schedule: str, layer: str, start: datetime, end: datetime
) -> list[OverrideSpan]:
    rows = session.scalars(
        select(Override).where(
            Override.schedule == schedule,
            Override.layer == layer,
            Override.starts_at < end,
            Override.ends_at > start,
        )
    )
    return [OverrideSpan(r.id, r.person, r.starts_at, r.ends_at) for r in rows]


def _layer_shifts(
    session: Session, schedule: Schedule, layer: Layer, start: datetime, end: datetime
) -> list[Shift]:
    if layer.rotation is None:
        return _stack_shifts(session, schedule, layer, start, end)
    epochs = _epochs(session, schedule.name, layer.name) or [rules.initial_epoch(layer.rotation)]
    # Shifts are returned whole, so overrides reaching into the first and last shift matter too.
    margin = max(e.rotation.turn() for e in epochs) + timedelta(days=1)
    return rules.layer_shifts(
        schedule=schedule.name,
        layer=layer,
        timezone=schedule.timezone,
        epochs=epochs,
        overrides=_overrides(session, schedule.name, layer.name, start - margin, end + margin),
        start=start,
        end=end,
    )


def _stack_shifts(
    session: Session, schedule: Schedule, layer: Layer, start: datetime, end: datetime
) -> list[Shift]:
    """A stack's shifts: its layers' over a window wider than the range, stacked, then the stack's own
    overrides. A shift reaching into the range is returned whole, as a rotation's is: while the first
    or last one runs to the window's edge (one person on several turns in a row), the window doubles,
    up to ``STACK_REACH`` each side — so its start, and its iCal UID, do not move with the range."""
    margin = schedule.turn(layer) + timedelta(days=1)
    while True:
        lo, hi = start - margin, end + margin
        found = rules.stack_shifts(
            schedule=schedule.name,
            layer=layer.name,
            stacked=[
                (x.name, _layer_shifts(session, schedule, x, lo, hi)) for x in schedule.stacked_layers(layer)
            ],
            overrides=_overrides(session, schedule.name, layer.name, lo, hi),
            start=start,
            end=end,
            window=(lo, hi),
        )
        cut = bool(found) and (found[0].start <= lo or found[-1].end >= hi)
        if not cut or margin >= STACK_REACH:
            return found
        margin = min(2 * margin, STACK_REACH)


def shifts(
    session: Session, *, config: OpsConfig, schedule: str, layer: str, start: datetime, end: datetime
) -> list[Shift]:
    """The layer's shifts overlapping [start, end), overrides applied, each whole (not cut to the range)."""
    check_range(start, end)
    found, found_layer = find_layer(config, schedule, layer)
    return _layer_shifts(session, found, found_layer, start, end)


def schedule_shifts(
    session: Session,
    *,
    config: OpsConfig,
    schedule: str,
    start: datetime,
    end: datetime,
    layer: str | None = None,
) -> list[Shift]:
    """Every layer's shifts (or one layer's), in layer order then time. NotFound for an unknown schedule."""
    check_range(start, end)
    found = get_schedule(config, schedule)
    if layer is not None and layer not in {x.name for x in found.layers}:
        raise NotFound(
            f"schedule '{schedule}' has no layer '{layer}' (layers: {_names([x.name for x in found.layers])})"
        )
    out: list[Shift] = []
    for candidate in found.layers:
        if layer is None or candidate.name == layer:
            out.extend(_layer_shifts(session, found, candidate, start, end))
    return out


def person_shifts(
    session: Session, *, config: OpsConfig, person: str, start: datetime, end: datetime
) -> list[Shift]:
    """One person's shifts in every schedule and layer, by start."""
    check_range(start, end)
    handle = person.lstrip("@")
    out = [
        shift
        for schedule in config.schedules
        for layer in schedule.layers
        for shift in _layer_shifts(session, schedule, layer, start, end)
        if shift.person == handle
    ]
    return sorted(out, key=lambda s: (s.start, s.schedule, s.layer))


def layers_applied_since(session: Session) -> dict[tuple[str, str], datetime]:
    """When each (schedule, layer) was first applied: the creation of its earliest rotation anchor.

    ``sync_rotations`` writes a layer's first anchor in the apply that introduces it, so this is when
    commandpost started paging from that layer. Its shifts before then are a projection of the
    rotation into a past nobody was paged in (a rotation whose ``start`` is months old, applied for the
    first time today); on-call health counts a layer's rotation from here (overrides, recorded by
    people, count as given)."""
    rows = session.execute(
        select(RotationAnchor.schedule, RotationAnchor.layer, func.min(RotationAnchor.created_at)).group_by(
            RotationAnchor.schedule, RotationAnchor.layer
        )
    )
    return {(schedule, layer): at for schedule, layer, at in rows if at is not None}


def who_is_on_call(
    session: Session, *, config: OpsConfig, schedule: str, layer: str, at: datetime
) -> str | None:
    """The handle of whoever covers the layer at ``at`` (overrides applied); None when nobody does."""
    found, found_layer = find_layer(config, schedule, layer)
    shift = rules.person_at(_layer_shifts(session, found, found_layer, at, at + timedelta(seconds=1)), at)
    return shift.person if shift else None


def on_call(
    session: Session, *, config: OpsConfig, at: datetime, schedule: str | None = None
) -> list[OnCallNow]:
    """Every schedule's every layer at ``at`` (or one schedule's)."""
    schedules = [get_schedule(config, schedule)] if schedule else config.schedules
    out = []
    for found in schedules:
        for layer in found.layers:
            current = _layer_shifts(session, found, layer, at, at + timedelta(seconds=1))
            out.append(OnCallNow(found.name, layer.name, rules.person_at(current, at)))
    return out


def handoffs_between(
    session: Session, *, config: OpsConfig, start: datetime, end: datetime, noticed: bool = False
) -> list[Handoff]:
    """Every handoff (schedule, layer, at, outgoing, incoming) in [start, end), by time.

    A stacked layer hands off when its person changes. ``noticed``: only the handoffs that get a
    handoff notice — not those of a layer some stack of its schedule stacks, whose changes reach
    people through the stack's own handoffs (one notice per change of who is paged, docs/oncall.md).
    """
    check_range(start, end)
    out = []
    for schedule in config.schedules:
        quiet = schedule.in_stacks() if noticed else set()
        for layer in schedule.layers:
            if layer.name in quiet:
                continue
            lookback = _lookback(schedule, layer)
            layer_shifts = _layer_shifts(session, schedule, layer, start - lookback, end)
            out.extend(rules.handoffs(layer_shifts, start, end))
    return sorted(out, key=lambda h: (h.at, h.schedule, h.layer))


def previous_handoff(session: Session, *, config: OpsConfig, handoff: Handoff) -> datetime | None:
    """When the same layer last changed hands before ``handoff`` (within the lookback)."""
    found, layer = find_layer(config, handoff.schedule, handoff.layer)
    lookback = _lookback(found, layer)
    start = handoff.at - lookback
    earlier = rules.handoffs(
        _layer_shifts(session, found, layer, start - lookback, handoff.at), start, handoff.at
    )
    return earlier[-1].at if earlier else None


# ------------------------------------------------------------------ overrides


def add_override(
    session: Session,
    *,
    config: OpsConfig,
    schedule: str,
    layer: str,
    person: str,
    start: datetime,
    end: datetime,
    actor: str,
    now: datetime,
    note: str = "",
) -> Override:
    """Record that ``person`` covers the layer over [start, end). ValidationFailed names valid values."""
    handle = person.lstrip("@")
    if config.person(handle) is None:
        raise ValidationFailed(
            f"unknown person '{handle}' (people: {_names([p.handle for p in config.people])})"
        )
    find_layer(config, schedule, layer)
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValidationFailed(f"'{name}' {value.isoformat()} has no timezone; add Z or an offset")
    if end <= start:
        raise ValidationFailed(f"'end' {end.isoformat()} is not after 'start' {start.isoformat()}")
    row = Override(
        schedule=schedule,
        layer=layer,
        person=handle,
        starts_at=start,
        ends_at=end,
        note=note,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_overrides(
    session: Session,
    *,
    now: datetime,
    schedule: str | None = None,
    layer: str | None = None,
    person: str | None = None,
    include_past: bool = False,
) -> list[Override]:
    """Overrides by start (only those not yet over, unless ``include_past``)."""
    query = select(Override).order_by(Override.starts_at, Override.id)
    if not include_past:
        query = query.where(Override.ends_at > now)
    if schedule:
        query = query.where(Override.schedule == schedule)
    if layer:
        query = query.where(Override.layer == layer)
    if person:
        query = query.where(Override.person == person.lstrip("@"))
    return list(session.scalars(query))


def remove_override(session: Session, *, override_id: int) -> Override:
    row = session.get(Override, override_id)
    if row is None:
        raise NotFound(f"no override with id {override_id}")
    session.delete(row)
    session.flush()
    return row


# ------------------------------------------------------------------ rotation anchors


def sync_rotations(session: Session, config: OpsConfig, now: datetime) -> list[str]:
    """Bring the rotation anchors in line with ``config`` without reshuffling who is on call.

    Called by ``policy.service.apply_folder`` after it stores a new revision (through the
    ``ops_applied`` seam, which passes its arguments by position). For each layer whose rotation
    definition (members, length, start, handoff) differs from the one in effect, ``rules.rebase``
    keeps the person on call now until their shift ends and continues in the new order from there.
    Returns one line per change. A stacked layer has no rotation, so no anchor: its rotation layers
    have theirs.
    """
    changes = []
    for schedule in config.schedules:
        for layer in schedule.layers:
            if layer.rotation is None:
                continue
            change = _sync_layer(session, schedule.name, layer.name, layer.rotation, now)
            if change:
                changes.append(change)
    session.flush()
    return changes


def _sync_layer(session: Session, schedule: str, layer: str, rotation: Rotation, now: datetime) -> str | None:
    rows = list(
        session.scalars(
            select(RotationAnchor)
            .where(RotationAnchor.schedule == schedule, RotationAnchor.layer == layer)
            .order_by(RotationAnchor.effective_from)
        )
    )
    stored = [Epoch(r.effective_from, Rotation.model_validate(r.rotation), r.member_index) for r in rows]
    current = stored
    if not stored:
        previous = _previous_rotation(session, schedule, layer)
        current = [rules.initial_epoch(previous)] if previous is not None else []
    wanted = rules.rebase(current, rotation, now)
    keys = {e.effective_from for e in wanted}
    dropped = [r for r in rows if r.effective_from not in keys]
    if dropped:
        session.execute(delete(RotationAnchor).where(RotationAnchor.id.in_([r.id for r in dropped])))
    have = {r.effective_from for r in rows if r.effective_from in keys}
    added = [(i, e) for i, e in enumerate(wanted) if e.effective_from not in have]
    for i, epoch in added:
        session.add(
            RotationAnchor(
                schedule=schedule,
                layer=layer,
                effective_from=epoch.effective_from,
                rotation=epoch.rotation.model_dump(mode="json"),
                member_index=epoch.member_index,
                created_at=now,
                reason=_reason(epoch, wanted[i - 1] if i else None)[:300],
            )
        )
    if not added and not dropped:
        return None
    latest = wanted[-1]
    return (
        f"rotation {schedule}/{layer}: {', '.join(latest.rotation.members)} from "
        f"{latest.effective_from.isoformat()}, starting with {latest.rotation.members[latest.member_index]}"
    )


def _reason(epoch: Epoch, before: Epoch | None) -> str:
    if before is None:
        return "initial rotation"
    old = before.rotation
    if old.members != epoch.rotation.members:
        return f"members {', '.join(old.members)} -> {', '.join(epoch.rotation.members)}"
    return "rotation length, start or handoff changed"


def _previous_rotation(session: Session, schedule: str, layer: str) -> Rotation | None:
    """The layer's rotation in the revision before the latest, for layers never synced before
    (a database that had revisions before on-call anchors existed)."""
    revision = session.scalars(
        select(OpsRevision).order_by(OpsRevision.seq.desc()).offset(1).limit(1)
    ).first()
    if revision is None:
        return None
    for found in revision.model.get("schedules", []):
        if found.get("name") != schedule:
            continue
        for candidate in found.get("layers", []):
            if candidate.get("name") == layer and candidate.get("rotation"):
                return Rotation.model_validate(candidate["rotation"])
    return None
