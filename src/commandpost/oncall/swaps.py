"""Shift swaps and cover: a person asks someone to cover (part of) their shift or to trade ranges; the
person asked — or a lead of their team on their behalf — accepts or declines; the asker may withdraw.
"Take the rest of this shift now" relieves whoever is on call at once.

An accepted request becomes ordinary ``Override`` rows in the same transaction, so it wins over the
rotation exactly like any override and survives every later ``apply``; the handoff notices, which
read who is on call with overrides applied, follow it. Both people are told on their contact methods,
once per swap and event (the outbox's idempotency key). Decisions are conditional updates
(``WHERE state = 'requested'``), so two concurrent answers have one winner. Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from commandpost.engine import wakeup
from commandpost.errors import Conflict, Forbidden, NotFound, ValidationFailed
from commandpost.notify import service as notify_service
from commandpost.oncall import service as oncall_service
from commandpost.oncall import swap_rules as rules
from commandpost.oncall.models import Override, ShiftSwap
from commandpost.policy.opsfiles import OpsConfig

MAX_SPAN = timedelta(days=92)
"""The longest range one request may hand over or take: a quarter, far beyond any shift."""
MAX_NOTE = 2000


# ------------------------------------------------------------------ reads


def state_of(row: ShiftSwap, now: datetime) -> str:
    return rules.effective_state(row.state, row.expires_at, now)


def get_swap(session: Session, *, swap_id: int) -> ShiftSwap:
    row = session.get(ShiftSwap, swap_id)
    if row is None:
        raise NotFound(f"no shift swap with id {swap_id}")
    return row


def list_swaps(
    session: Session,
    *,
    now: datetime,
    state: str | None = None,
    person: str | None = None,
    schedule: str | None = None,
    limit: int = 200,
) -> list[ShiftSwap]:
    """Newest first; ``person`` matches the requester or the person asked; ``state`` is the state as
    read at ``now`` (an unanswered request past its expiry is ``expired``)."""
    if state is not None and state not in rules.STATES:
        raise ValidationFailed(
            f"state {state!r} is not one of {', '.join(rules.STATES)}", details={"field": "state"}
        )
    query = select(ShiftSwap).order_by(ShiftSwap.id.desc()).limit(limit)
    if person:
        handle = person.lstrip("@")
        query = query.where(or_(ShiftSwap.requester == handle, ShiftSwap.target == handle))
    if schedule:
        query = query.where(ShiftSwap.schedule == schedule)
    if state == rules.REQUESTED:
        query = query.where(ShiftSwap.state == rules.REQUESTED, ShiftSwap.expires_at > now)
    elif state == rules.EXPIRED:
        query = query.where(
            or_(
                ShiftSwap.state == rules.EXPIRED,
                (ShiftSwap.state == rules.REQUESTED) & (ShiftSwap.expires_at <= now),
            )
        )
    elif state is not None:
        query = query.where(ShiftSwap.state == state)
    return list(session.scalars(query))


# ------------------------------------------------------------------ checks


def _person(config: OpsConfig, handle: str, what: str) -> str:
    handle = handle.lstrip("@")
    if config.person(handle) is None:
        people = ", ".join(p.handle for p in config.people)
        raise ValidationFailed(
            f"{what}: unknown person '{handle}' (people: {people})", details={"field": what}
        )
    return handle


def _actor(config: OpsConfig, actor: str) -> str:
    if config.person(actor) is None:
        raise Forbidden(f"@{actor} is not in people.yaml, so has no shifts to hand over or take")
    return actor


def _span(start: datetime, end: datetime, names: tuple[str, str]) -> None:
    first, second = names
    for name, value in ((first, start), (second, end)):
        if value.tzinfo is None:
            raise ValidationFailed(
                f"'{name}' {value.isoformat()} has no timezone; add Z or an offset", details={"field": name}
            )
    if end <= start:
        raise ValidationFailed(
            f"'{second}' {rules.stamp(end)} is not after '{first}' {rules.stamp(start)}",
            details={"field": second},
        )
    if end - start > MAX_SPAN:
        raise ValidationFailed(
            f"'{first}'–'{second}' spans {(end - start).days} days; at most {MAX_SPAN.days} per request",
            details={"field": second},
        )


def _gaps(
    session: Session,
    config: OpsConfig,
    *,
    where: tuple[str, str],
    person: str,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime, str | None]]:
    """The parts of [start, end) of the layer that ``person`` does not hold now (overrides applied)."""
    schedule, layer = where
    shifts = oncall_service.shifts(
        session, config=config, schedule=schedule, layer=layer, start=start, end=end
    )
    return rules.not_held(shifts, person, start, end)


def _local(config: OpsConfig, person: str, at: datetime) -> str:
    found = config.person(person)
    zone = ZoneInfo(found.timezone if found else "UTC")
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _settle_expired(session: Session, now: datetime) -> None:
    """Mark requests nobody answered before they expired (readers already see them as expired)."""
    session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.state == rules.REQUESTED, ShiftSwap.expires_at <= now)
        .values(state=rules.EXPIRED, decided_at=ShiftSwap.expires_at)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ request, accept, decline, withdraw


def request_swap(
    session: Session,
    *,
    config: OpsConfig,
    schedule: str,
    layer: str,
    requester: str,
    target: str,
    start: datetime,
    end: datetime,
    counter_start: datetime | None = None,
    counter_end: datetime | None = None,
    note: str = "",
    now: datetime,
) -> ShiftSwap:
    """``requester`` asks ``target`` to cover [start, end) of their time on the layer — or, with a
    counter range, to trade it for [counter_start, counter_end) of the target's.

    Refused (422) unless the requester holds the whole range now (and the target the counter range),
    the ranges are in the future (a cover may have begun: the part before ``now`` is dropped), and
    (409) no other open request of the requester's overlaps it."""
    requester = _actor(config, requester)
    target = _person(config, target, "target")
    if target == requester:
        raise ValidationFailed("target: you cannot ask yourself; name who should take the shift")
    oncall_service.find_layer(config, schedule, layer)
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"note: {len(note)} characters; at most {MAX_NOTE}", details={"field": "note"})
    _span(start, end, ("start", "end"))
    kind = rules.COVER
    if (counter_start is None) != (counter_end is None):
        raise ValidationFailed(
            "a swap needs both counter_start and counter_end (neither, for a cover)",
            details={"field": "counter_end" if counter_end is None else "counter_start"},
        )
    if counter_start is not None and counter_end is not None:
        kind = rules.SWAP
        _span(counter_start, counter_end, ("counter_start", "counter_end"))
        if rules.overlaps(start, end, counter_start, counter_end):
            raise ValidationFailed(
                "the counter range overlaps the range handed over; a swap trades two separate ranges",
                details={"field": "counter_start"},
            )
        if min(start, counter_start) < now:
            raise ValidationFailed(
                f"a swap trades ranges still to come; this one begins before now ({rules.stamp(now)})",
                details={"field": "start" if start < now else "counter_start"},
            )
    if end <= now:
        raise ValidationFailed(f"'end' {rules.stamp(end)} has passed", details={"field": "end"})
    start = max(start, now)
    where = (schedule, layer)
    gaps = _gaps(session, config, where=where, person=requester, start=start, end=end)
    if gaps:
        raise ValidationFailed(
            f"@{requester} is not on call for {schedule}/{layer} over the whole range: "
            f"{rules.describe_gaps(gaps)}; ask only for time you hold",
            details={"field": "start"},
        )
    if counter_start is not None and counter_end is not None:
        gaps = _gaps(session, config, where=where, person=target, start=counter_start, end=counter_end)
        if gaps:
            raise ValidationFailed(
                f"@{target} is not on call for {schedule}/{layer} over the whole counter range: "
                f"{rules.describe_gaps(gaps)}",
                details={"field": "counter_start"},
            )
    _settle_expired(session, now)
    _no_overlapping_request(session, schedule, layer, requester, start, end, counter_start, counter_end, now)
    row = ShiftSwap(
        schedule=schedule,
        layer=layer,
        kind=kind,
        requester=requester,
        target=target,
        starts_at=start,
        ends_at=end,
        counter_starts_at=counter_start,
        counter_ends_at=counter_end,
        note=note,
        state=rules.REQUESTED,
        expires_at=rules.expires_at(kind, start, end, counter_start),
        decided_by=None,
        created_at=now,
        decided_at=None,
        override_id=None,
        counter_override_id=None,
    )
    session.add(row)
    session.flush()
    _tell(session, config, row, "requested", [target], now)
    return row


def _no_overlapping_request(
    session: Session, schedule: str, layer: str, requester: str, start: datetime, end: datetime,
    counter_start: datetime | None, counter_end: datetime | None, now: datetime,
) -> None:  # fmt: skip
    ranges = [(start, end)] + ([(counter_start, counter_end)] if counter_start and counter_end else [])
    open_rows = session.scalars(
        select(ShiftSwap).where(
            ShiftSwap.schedule == schedule,
            ShiftSwap.layer == layer,
            ShiftSwap.requester == requester,
            ShiftSwap.state == rules.REQUESTED,
            ShiftSwap.expires_at > now,
        )
    )
    for other in open_rows:
        theirs = [(other.starts_at, other.ends_at)]
        if other.counter_starts_at and other.counter_ends_at:
            theirs.append((other.counter_starts_at, other.counter_ends_at))
        if any(rules.overlaps(a, b, c, d) for a, b in ranges for c, d in theirs):
            raise Conflict(
                f"swap {other.id} (to @{other.target}) already asks about part of this range; "
                "withdraw it first",
                details={"swap": other.id},
            )


def _open(session: Session, swap_id: int, now: datetime) -> ShiftSwap:
    row = get_swap(session, swap_id=swap_id)
    state = state_of(row, now)
    if state == rules.EXPIRED:
        raise Conflict(f"swap {row.id} expired at {rules.stamp(row.expires_at)} unanswered; ask again")
    if state != rules.REQUESTED:
        by = f" by @{row.decided_by}" if row.decided_by else ""
        when = f" at {rules.stamp(row.decided_at)}" if row.decided_at else ""
        raise Conflict(f"swap {row.id} is already {state}{by}{when}")
    return row


def _decide(session: Session, row: ShiftSwap, state: str, actor: str, now: datetime) -> None:
    """The one transition out of ``requested``: a conditional update, so a concurrent answer loses."""
    done = session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.id == row.id, ShiftSwap.state == rules.REQUESTED, ShiftSwap.expires_at > now)
        .values(state=state, decided_by=actor, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"swap {row.id} was answered by someone else a moment ago")
    session.refresh(row)


def _may_decide(config: OpsConfig, row: ShiftSwap, actor: str, verb: str) -> None:
    if not rules.may_decide(config, actor=actor, requester=row.requester, target=row.target):
        leads = ", ".join(f"@{x}" for x in rules.leads_of(config, row.target) if x != row.requester)
        who = f"@{row.target}" + (f" or a lead of their team ({leads})" if leads else "")
        raise Forbidden(f"only {who} can {verb} swap {row.id}; you are @{actor}")


def accept(session: Session, *, config: OpsConfig, swap_id: int, actor: str, now: datetime) -> ShiftSwap:
    """The target (or a lead for them) accepts: the overrides are made now, in this transaction.

    Refused with 409 when the requester no longer holds the range (or the target the counter range):
    someone else was put on call there since the request."""
    row = _open(session, swap_id, now)
    _may_decide(config, row, actor, "accept")
    where = (row.schedule, row.layer)
    start = max(row.starts_at, now)
    gaps = _gaps(session, config, where=where, person=row.requester, start=start, end=row.ends_at)
    if gaps:
        raise Conflict(
            f"@{row.requester} no longer holds {row.schedule}/{row.layer} over the range of swap {row.id}: "
            f"{rules.describe_gaps(gaps)}; nothing was changed"
        )
    counter = None
    if row.kind == rules.SWAP and row.counter_starts_at and row.counter_ends_at:
        counter = (row.counter_starts_at, row.counter_ends_at)
        gaps = _gaps(session, config, where=where, person=row.target, start=counter[0], end=counter[1])
        if gaps:
            raise Conflict(
                f"@{row.target} no longer holds {row.schedule}/{row.layer} over the counter range of swap "
                f"{row.id}: {rules.describe_gaps(gaps)}; nothing was changed"
            )
    _decide(session, row, rules.ACCEPTED, actor, now)
    label = f"swap {row.id}: @{row.target} covers @{row.requester}"
    row.override_id = _override(session, row, row.target, start, row.ends_at, label, actor, now)
    if counter is not None:
        label = f"swap {row.id}: @{row.requester} covers @{row.target}"
        row.counter_override_id = _override(session, row, row.requester, *counter, label, actor, now)
    session.flush()
    _tell(session, config, row, "accepted", [row.requester, row.target], now)
    return row


def _override(
    session: Session, row: ShiftSwap, person: str, start: datetime, end: datetime, note: str,
    actor: str, now: datetime,
) -> int:  # fmt: skip
    made = Override(
        schedule=row.schedule,
        layer=row.layer,
        person=person,
        starts_at=start,
        ends_at=end,
        note=note,
        created_by=actor,
        created_at=now,
    )
    session.add(made)
    session.flush()
    return made.id


def decline(session: Session, *, config: OpsConfig, swap_id: int, actor: str, now: datetime) -> ShiftSwap:
    row = _open(session, swap_id, now)
    _may_decide(config, row, actor, "decline")
    _decide(session, row, rules.DECLINED, actor, now)
    told = [row.requester] + ([row.target] if actor != row.target else [])
    _tell(session, config, row, "declined", told, now)
    return row


def withdraw(session: Session, *, config: OpsConfig, swap_id: int, actor: str, now: datetime) -> ShiftSwap:
    row = _open(session, swap_id, now)
    if actor != row.requester:
        raise Forbidden(f"only @{row.requester}, who asked, can withdraw swap {row.id}; you are @{actor}")
    _decide(session, row, rules.WITHDRAWN, actor, now)
    _tell(session, config, row, "withdrawn", [row.target], now)
    return row


# ------------------------------------------------------------------ take the rest of this shift now


def take(
    session: Session,
    *,
    config: OpsConfig,
    schedule: str,
    layer: str,
    actor: str,
    now: datetime,
    note: str = "",
) -> ShiftSwap:
    """``actor`` takes the layer from whoever is on call now until the end of that person's current
    shift: an override from now, recorded as an accepted ``take`` (no one need accept it); the person
    relieved is told."""
    actor = _actor(config, actor)
    oncall_service.find_layer(config, schedule, layer)
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"note: {len(note)} characters; at most {MAX_NOTE}", details={"field": "note"})
    current = next(
        (
            s
            for s in oncall_service.shifts(
                session,
                config=config,
                schedule=schedule,
                layer=layer,
                start=now,
                end=now + timedelta(seconds=1),
            )
            if s.start <= now < s.end
        ),
        None,
    )
    if current is None:
        raise Conflict(
            f"nobody is on call for {schedule}/{layer} now, so there is no shift to take "
            "(an override covers a gap: commandpost override add)"
        )
    if current.person == actor:
        raise Conflict(f"you are already on call for {schedule}/{layer} until {rules.stamp(current.end)}")
    row = ShiftSwap(
        schedule=schedule,
        layer=layer,
        kind=rules.TAKE,
        requester=actor,
        target=current.person,
        starts_at=now,
        ends_at=current.end,
        counter_starts_at=None,
        counter_ends_at=None,
        note=note,
        state=rules.ACCEPTED,
        expires_at=now,
        decided_by=actor,
        created_at=now,
        decided_at=now,
        override_id=None,
        counter_override_id=None,
    )
    session.add(row)
    session.flush()
    label = f"swap {row.id}: @{actor} took over from @{current.person}"
    row.override_id = _override(session, row, actor, now, current.end, label, actor, now)
    session.flush()
    _tell(session, config, row, "taken", [current.person, actor], now)
    return row


# ------------------------------------------------------------------ telling both people


def _ranges(config: OpsConfig, row: ShiftSwap, person: str) -> tuple[str, str]:
    main = f"{_local(config, person, row.starts_at)} – {_local(config, person, row.ends_at)}"
    counter = ""
    if row.counter_starts_at and row.counter_ends_at:
        counter = (
            f"{_local(config, person, row.counter_starts_at)} – {_local(config, person, row.counter_ends_at)}"
        )
    return main, counter


def _words(config: OpsConfig, row: ShiftSwap, event: str, person: str) -> tuple[str, str]:
    """Subject and first line of a notice, written for ``person`` in their own timezone."""
    where = f"{row.schedule} {row.layer}"
    main, counter = _ranges(config, row, person)
    asker, asked = f"@{row.requester}", f"@{row.target}"
    trade = f" in exchange for your {counter}" if counter else ""
    by = (
        f" (by @{row.decided_by} on @{row.target}'s behalf)"
        if row.decided_by not in (None, row.target)
        else ""
    )
    if event == "requested":
        if counter:
            return (
                f"[swap] {asker} asks to swap {where}: you take {main}, they take {counter}",
                f"{asker} asks you to take {where} {main}{trade}.",
            )
        return (
            f"[cover] {asker} asks you to cover {where} {main}",
            f"{asker} asks you to cover {where} {main}.",
        )
    if event == "accepted":
        line = f"{asked} covers {where} {main} for {asker}" + (
            f"; {asker} covers {counter}" if counter else ""
        )
        return f"[swap] accepted: {line}", f"Accepted{by}: {line}. It is an override now."
    if event == "declined":
        return (
            f"[swap] declined: {asked} will not cover {where} {main}",
            f"Declined{by}: {where} {main} stays with {asker}.",
        )
    if event == "withdrawn":
        return (
            f"[swap] withdrawn: {asker} no longer asks you to cover {where} {main}",
            f"{asker} withdrew the request; {where} {main} stays with them.",
        )
    until = _local(config, person, row.ends_at)
    if person == row.target:
        return (
            f"[take] {asker} took over {where} from you until {until}",
            f"{asker} took over {where} from you now, until {until}. You are off.",
        )
    return (
        f"[take] you are on call for {where} until {until}",
        f"You took over {where} from {asked} now, until {until}.",
    )


def _tell(
    session: Session, config: OpsConfig, row: ShiftSwap, event: str, people: list[str], now: datetime
) -> int:
    """One message per contact method of each person, keyed by swap, event and person (sent once)."""
    queued = 0
    for person in dict.fromkeys(people):
        if config.person(person) is None:
            continue
        subject, first = _words(config, row, event, person)
        body = "\n".join(
            [
                first,
                *([f"Note from @{row.requester}: {row.note}"] if row.note else []),
                *(
                    [
                        "",
                        f"Accept: commandpost oncall swap accept {row.id}   "
                        f"Decline: commandpost oncall swap decline {row.id}   (or the on-call page)",
                    ]
                    if event == "requested"
                    else []
                ),
            ]
        )
        queued += notify_service.enqueue_each(
            session,
            destinations=notify_service.destinations_for_person(config, person, None),
            kind="swap",
            key_parts={"swap": row.id, "event": event, "to": person},
            subject=subject,
            body=body,
            severity=None,
            incident_id=None,
            person=person,
            payload=_payload(row, event),
            now=now,
        )
    if queued:
        wakeup.request(session)
    return queued


def _payload(row: ShiftSwap, event: str) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return rules.stamp(at) if at else None

    return {
        "kind": "swap",
        "event": event,
        "swap": row.id,
        "swap_kind": row.kind,
        "schedule": row.schedule,
        "layer": row.layer,
        "requester": row.requester,
        "target": row.target,
        "start": iso(row.starts_at),
        "end": iso(row.ends_at),
        "counter_start": iso(row.counter_starts_at),
        "counter_end": iso(row.counter_ends_at),
        "decided_by": row.decided_by,
    }
