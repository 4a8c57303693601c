"""Roles (guide §1-1) and explicit handover (guide §1-3).

The IC holds every role not delegated: only delegations are rows, so when the IC changes
hands every undelegated role moves with it. A role changes hands by ``assign`` (the IC or
an admin token; the IC role itself only by an admin, as a forced takeover) or by a two-step
handover: the holder or the IC *offers*, the receiving person *accepts* with their own token
(or declines), and an unanswered offer expires — until then the role stays put. An offer goes
only to someone who can accept it (not to a read-only person), the offerer can withdraw it, and
is told (the ``hooks.offer_closed`` seam) when it is declined or expires.

Answers to an offer are conditional updates (``WHERE state = 'pending'``, rowcount checked),
so two concurrent accepts of one offer have exactly one winner. An offer past its
``expires_at`` is treated as expired by every reader even before the engine marks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, Forbidden, ValidationFailed
from commandpost.incidents import hooks, rules, timeline
from commandpost.incidents.models import Incident, IncidentRole, RoleOffer
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security import service as security_service
from commandpost.security.rules import is_service_account


@dataclass(frozen=True)
class RoleView:
    role: str
    label: str
    holder: str | None
    held_by_ic_by_default: bool
    assigned_at: datetime | None
    pending_offer: RoleOffer | None


def _rows(session: Session, incident: Incident) -> dict[str, IncidentRole]:
    rows = session.scalars(select(IncidentRole).where(IncidentRole.incident_id == incident.id))
    return {row.role: row for row in rows}


def _pending(session: Session, incident: Incident, role: str) -> RoleOffer | None:
    return session.scalars(
        select(RoleOffer).where(
            RoleOffer.incident_id == incident.id, RoleOffer.role == role, RoleOffer.state == "pending"
        )
    ).first()


def live_offer(session: Session, *, incident: Incident, role: str, now: datetime) -> RoleOffer | None:
    """The pending offer of ``role`` that has not expired at ``now`` (lazy expiry for readers)."""
    offer = _pending(session, incident, role)
    return offer if offer is not None and offer.expires_at > now else None


def ic_holder(session: Session, *, incident: Incident) -> str | None:
    row = _rows(session, incident).get("ic")
    return row.holder if row else None


def ic_holders(session: Session, *, incident_ids: list[int]) -> dict[int, str]:
    """The IC of each incident, in one query (listings)."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(IncidentRole.incident_id, IncidentRole.holder).where(
            IncidentRole.incident_id.in_(incident_ids), IncidentRole.role == "ic"
        )
    )
    return {incident_id: person for incident_id, person in rows}


def holder(session: Session, *, incident: Incident, role: str) -> tuple[str | None, bool]:
    """The effective holder of ``role`` and whether the IC holds it by default."""
    rows = _rows(session, incident)
    if role in rows:
        return rows[role].holder, False
    ic = rows.get("ic")
    return (ic.holder if ic else None), role != "ic"


def view(session: Session, *, incident: Incident, now: datetime) -> list[RoleView]:
    rows = _rows(session, incident)
    ic = rows.get("ic")
    out = []
    for role in rules.ROLES:
        row = rows.get(role)
        out.append(
            RoleView(
                role=role,
                label=rules.ROLE_LABELS[role],
                holder=row.holder if row else (ic.holder if ic else None),
                held_by_ic_by_default=row is None and role != "ic",
                assigned_at=row.assigned_at if row else (ic.assigned_at if ic else None),
                pending_offer=live_offer(session, incident=incident, role=role, now=now),
            )
        )
    return out


def known_person(config: OpsConfig, person: str) -> str:
    handle = rules.clean_person(person)
    if config.person(handle) is None:
        valid = sorted(p.handle for p in config.people)
        raise ValidationFailed(
            f"unknown person @{handle}; valid: {', '.join('@' + h for h in valid)}",
            details={"field": "person", "value": handle, "valid": valid},
        )
    return handle


def _set_holder(
    session: Session, incident: Incident, role: str, person: str, *, by: str, at: datetime
) -> None:
    """Make ``person`` hold ``role``. Giving a role to the IC returns it to the IC by default."""
    rows = _rows(session, incident)
    row = rows.get(role)
    ic = rows.get("ic")
    if role != "ic" and ic is not None and ic.holder == person:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            IncidentRole(incident_id=incident.id, role=role, holder=person, assigned_at=at, assigned_by=by)
        )
    else:
        row.holder, row.assigned_at, row.assigned_by = person, at, by
    session.flush()


def start_command(session: Session, *, incident: Incident, person: str, by: str, now: datetime) -> None:
    """The first IC of an incident (declaration, or the first ack of one opened from an alert)."""
    if is_service_account(person):
        raise ValidationFailed(
            f"@{person} is a service account and cannot be IC: name the IC (ic) when declaring, "
            "and acknowledge as a person",
            details={"field": "ic", "value": person},
        )
    at = timeline.effective_now(incident, now)
    session.add(
        IncidentRole(incident_id=incident.id, role="ic", holder=person, assigned_at=at, assigned_by=by)
    )
    session.flush()
    number = rules.format_number(incident.number)
    text = f"{number}: @{person} is IC" + ("" if by == person else f" (named by @{by})")
    timeline.append(
        session,
        incident=incident,
        kind="role",
        text=text,
        author=by,
        now=now,
        data={"role": "ic", "to": person},
    )


def _require_ic_exists(session: Session, incident: Incident) -> str:
    ic = ic_holder(session, incident=incident)
    if ic is None:
        raise Conflict(
            f"{rules.format_number(incident.number)} has no IC yet: acknowledge it to become IC",
            details={"number": rules.format_number(incident.number)},
        )
    return ic


def _supersede(session: Session, incident: Incident, offer: RoleOffer, *, why: str, now: datetime) -> None:
    result = session.execute(
        update(RoleOffer)
        .where(RoleOffer.id == offer.id, RoleOffer.state == "pending")
        .values(state="superseded", pending_marker=None, answered_at=timeline.effective_now(incident, now))
    )
    if result.rowcount:  # type: ignore[attr-defined]
        session.refresh(offer)
        label = rules.ROLE_LABELS[offer.role]
        timeline.append(
            session,
            incident=incident,
            kind="handover",
            text=f"{rules.format_number(incident.number)}: offer of {label} to @{offer.to_person} "
            f"superseded ({why})",
            author=rules.SYSTEM_AUTHOR,
            now=now,
            data={"role": offer.role, "offer_id": offer.id, "state": "superseded", "to": offer.to_person},
        )


def assign(
    session: Session,
    *,
    incident: Incident,
    role: str,
    person: str,
    actor: str,
    is_admin: bool,
    config: OpsConfig,
    now: datetime,
) -> RoleView:
    """The IC (or an admin token) gives ``role`` to ``person`` directly. IC itself: admin only (forced)."""
    timeline.ensure_writable(incident)
    role = rules.normalize_role(role)
    person = known_person(config, person)
    number = rules.format_number(incident.number)
    ic = ic_holder(session, incident=incident)
    if role == "ic" and not is_admin:
        raise Forbidden(
            f"the IC role of {number} changes hands by explicit handover: "
            f"`commandpost role offer {number} ic {person}`, then @{person} accepts",
            details={"role": role, "ic": ic},
        )
    if role != "ic":
        ic = _require_ic_exists(session, incident)
        if actor != ic and not is_admin:
            raise Forbidden(
                f"only the IC (@{ic}) or an admin token assigns roles on {number}; you are @{actor}",
                details={"role": role, "ic": ic, "you": actor},
            )
    current, _ = holder(session, incident=incident, role=role)
    if current == person:
        raise Conflict(f"@{person} already holds {rules.ROLE_LABELS[role]} on {number}")
    pending = _pending(session, incident, role)
    if pending is not None:
        _supersede(session, incident, pending, why=f"assigned to @{person}", now=now)
    at = timeline.effective_now(incident, now)
    if role == "ic" and ic is None:
        start_command(session, incident=incident, person=person, by=actor, now=now)
    else:
        _set_holder(session, incident, role, person, by=actor, at=at)
        forced = " (forced by an admin, no handover)" if role == "ic" else ""
        timeline.append(
            session,
            incident=incident,
            kind="role",
            text=f"{number}: {rules.ROLE_LABELS[role]} assigned to @{person} by @{actor}{forced}",
            author=actor,
            now=now,
            data={"role": role, "from": current, "to": person, "by": actor},
        )
    return next(v for v in view(session, incident=incident, now=now) if v.role == role)


def offer(
    session: Session,
    *,
    incident: Incident,
    role: str,
    person: str,
    actor: str,
    is_admin: bool,
    config: OpsConfig,
    now: datetime,
) -> RoleOffer:
    """The holder (or the IC, or an admin) offers ``role`` to ``person``; it stays put until accepted."""
    timeline.ensure_writable(incident)
    role = rules.normalize_role(role)
    person = known_person(config, person)
    number = rules.format_number(incident.number)
    label = rules.ROLE_LABELS[role]
    if not security_service.may_answer_offers(session, person=person):
        raise ValidationFailed(
            f"@{person} cannot accept {label} on {number}: their login and tokens are read-only; "
            f"offer it to someone else, or give @{person} the responder role first",
            details={"field": "person", "value": person, "role": role},
        )
    ic = _require_ic_exists(session, incident)
    current, _ = holder(session, incident=incident, role=role)
    if actor not in (current, ic) and not is_admin:
        raise Forbidden(
            f"only the {label} holder (@{current}) or the IC (@{ic}) may offer {label} on {number}",
            details={"role": role, "holder": current, "ic": ic, "you": actor},
        )
    if current == person:
        raise Conflict(f"@{person} already holds {label} on {number}")
    pending = _pending(session, incident, role)
    if pending is not None:
        if pending.expires_at > now:
            raise Conflict(
                f"{label} on {number} already has a pending offer to @{pending.to_person} "
                f"(expires {pending.expires_at:%H:%M:%S} UTC); it must be answered or expire first",
                details={"role": role, "offer_id": pending.id, "to": pending.to_person},
            )
        _expire(session, incident, pending, now=now)
    at = timeline.effective_now(incident, now)
    row = RoleOffer(
        incident_id=incident.id,
        role=role,
        from_person=current,
        to_person=person,
        offered_by=actor,
        offered_at=at,
        expires_at=at + config.settings.handover_offer_ttl,
        state="pending",
        pending_marker=1,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(f"{label} on {number} already has a pending offer") from None
    timeline.append(
        session,
        incident=incident,
        kind="handover",
        text=f"{number}: {label} offered to @{person} by @{actor}",
        author=actor,
        now=now,
        data={
            "role": role,
            "offer_id": row.id,
            "state": "pending",
            "from": current,
            "to": person,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    hooks.role_offered(session, incident, row, now)
    return row


def _answerable(session: Session, incident: Incident, role: str, actor: str, now: datetime) -> RoleOffer:
    timeline.ensure_writable(incident)
    role = rules.normalize_role(role)
    number = rules.format_number(incident.number)
    label = rules.ROLE_LABELS[role]
    pending = _pending(session, incident, role)
    if pending is None:
        raise Conflict(f"no pending offer of {label} on {number}", details={"role": role})
    if pending.to_person != actor:
        raise Forbidden(
            f"the offer of {label} on {number} is for @{pending.to_person}; you are @{actor}",
            details={"role": role, "to": pending.to_person, "you": actor},
        )
    if pending.expires_at <= now:
        current, _ = holder(session, incident=incident, role=role)
        raise Conflict(
            f"the offer of {label} on {number} to @{actor} expired at {pending.expires_at:%H:%M:%S} UTC; "
            f"{label} stays with @{current}",
            details={"role": role, "offer_id": pending.id, "state": "expired"},
        )
    return pending


def _answer(session: Session, incident: Incident, pending: RoleOffer, state: str, now: datetime) -> None:
    """The conditional update that makes exactly one answer win."""
    result = session.execute(
        update(RoleOffer)
        .where(RoleOffer.id == pending.id, RoleOffer.state == "pending", RoleOffer.expires_at > now)
        .values(state=state, pending_marker=None, answered_at=timeline.effective_now(incident, now))
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.refresh(pending)
        raise Conflict(
            f"the offer of {rules.ROLE_LABELS[pending.role]} was already answered ({pending.state})",
            details={"offer_id": pending.id, "state": pending.state},
        )
    session.refresh(pending)


def accept(session: Session, *, incident: Incident, role: str, actor: str, now: datetime) -> RoleOffer:
    """The receiving person accepts with their own token; the role moves to them now."""
    pending = _answerable(session, incident, role, actor, now)
    previous, _ = holder(session, incident=incident, role=pending.role)
    _answer(session, incident, pending, "accepted", now)
    at = timeline.effective_now(incident, now)
    _set_holder(session, incident, pending.role, actor, by=pending.offered_by, at=at)
    label = rules.ROLE_LABELS[pending.role]
    timeline.append(
        session,
        incident=incident,
        kind="handover",
        text=f"{rules.format_number(incident.number)}: @{actor} accepted {label}"
        + (f" from @{previous}" if previous else ""),
        author=actor,
        now=now,
        data={
            "role": pending.role,
            "offer_id": pending.id,
            "state": "accepted",
            "from": previous,
            "to": actor,
        },
    )
    return pending


def decline(session: Session, *, incident: Incident, role: str, actor: str, now: datetime) -> RoleOffer:
    """The receiving person says no; the role stays with its holder."""
    pending = _answerable(session, incident, role, actor, now)
    _answer(session, incident, pending, "declined", now)
    current, _ = holder(session, incident=incident, role=pending.role)
    label = rules.ROLE_LABELS[pending.role]
    timeline.append(
        session,
        incident=incident,
        kind="handover",
        text=f"{rules.format_number(incident.number)}: @{actor} declined {label}; it stays with @{current}",
        author=actor,
        now=now,
        data={"role": pending.role, "offer_id": pending.id, "state": "declined", "holder": current},
    )
    hooks.offer_closed(session, incident, pending, now)
    return pending


def withdraw(
    session: Session, *, incident: Incident, role: str, actor: str, is_admin: bool, now: datetime
) -> RoleOffer:
    """The offerer, the role's holder, the IC (or an admin) takes a pending offer back, so an offer
    nobody will answer never blocks the next one until it expires."""
    timeline.ensure_writable(incident)
    role = rules.normalize_role(role)
    number = rules.format_number(incident.number)
    label = rules.ROLE_LABELS[role]
    pending = _pending(session, incident, role)
    if pending is None:
        raise Conflict(f"no pending offer of {label} on {number} to withdraw", details={"role": role})
    current, _ = holder(session, incident=incident, role=role)
    ic = ic_holder(session, incident=incident)
    if actor not in (pending.offered_by, current, ic) and not is_admin:
        raise Forbidden(
            f"only @{pending.offered_by} (who offered it), the {label} holder or the IC may withdraw the "
            f"offer of {label} on {number}; you are @{actor}",
            details={"role": role, "offered_by": pending.offered_by, "you": actor},
        )
    if pending.expires_at <= now:  # already over: say so (and tell the offerer), as the engine would
        _expire(session, incident, pending, now=now)
        return pending
    _answer(session, incident, pending, "withdrawn", now)
    timeline.append(
        session,
        incident=incident,
        kind="handover",
        text=f"{number}: offer of {label} to @{pending.to_person} withdrawn by @{actor}; "
        f"{label} stays with @{current}",
        author=actor,
        now=now,
        data={"role": role, "offer_id": pending.id, "state": "withdrawn", "holder": current, "by": actor},
    )
    return pending


def _expire(session: Session, incident: Incident, offer: RoleOffer, *, now: datetime) -> bool:
    result = session.execute(
        update(RoleOffer)
        .where(RoleOffer.id == offer.id, RoleOffer.state == "pending", RoleOffer.expires_at <= now)
        .values(state="expired", pending_marker=None, answered_at=timeline.effective_now(incident, now))
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.refresh(offer)
    current, _ = holder(session, incident=incident, role=offer.role)
    label = rules.ROLE_LABELS[offer.role]
    timeline.append(
        session,
        incident=incident,
        kind="handover",
        text=f"{rules.format_number(incident.number)}: offer of {label} to @{offer.to_person} expired "
        f"unanswered; {label} stays with @{current}",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={"role": offer.role, "offer_id": offer.id, "state": "expired", "holder": current},
    )
    hooks.offer_closed(session, incident, offer, now)
    return True


def expire_due(session: Session, *, now: datetime) -> int:
    """Mark every pending offer past its expiry as expired, one timeline entry each (the engine's pass).

    Candidates are read without locks; each is then handled under its incident's lock (the
    same lock order as a request; an incident locked elsewhere is skipped until the next pass)
    and the conditional update skips what another replica already did.
    """
    due = session.execute(
        select(RoleOffer.id, RoleOffer.incident_id)
        .where(RoleOffer.state == "pending", RoleOffer.expires_at <= now)
        .order_by(RoleOffer.expires_at)
        .limit(200)
    ).all()
    done = 0
    for offer_id, incident_id in due:
        incident = timeline.try_lock(session, incident_id=incident_id)
        if incident is None:
            continue
        offer = session.get_one(RoleOffer, offer_id)
        if _expire(session, incident, offer, now=now):
            done += 1
    return done


_FIRST_EXPIRY = (
    select(RoleOffer.expires_at).where(RoleOffer.state == "pending").order_by(RoleOffer.expires_at).limit(1)
)
"""Built once: the engine asks every pass, twice (``has_work``, ``next_due``), and building it (and its
cache key) cost more than running it."""


def next_expiry(session: Session) -> datetime | None:
    return session.scalar(_FIRST_EXPIRY)


def supersede_pending(session: Session, *, incident: Incident, why: str, now: datetime) -> None:
    """Close every pending offer of the incident (it is being closed)."""
    offers = session.scalars(
        select(RoleOffer).where(RoleOffer.incident_id == incident.id, RoleOffer.state == "pending")
    ).all()
    for pending in offers:
        _supersede(session, incident, pending, why=why, now=now)


def require_ops(session: Session, *, incident: Incident, person: str) -> None:
    """Only the Ops holder — or the IC while holding Ops — records ``action`` entries (guide §1-1)."""
    current, by_default = holder(session, incident=incident, role="ops")
    if current == person:
        return
    number = rules.format_number(incident.number)
    if current is None:
        message = f"nobody holds Ops on {number} yet (no IC): acknowledge it to become IC and hold Ops"
    elif by_default:
        message = (
            f"only the Ops holder records actions on {number}: Ops is held by the IC @{current} "
            f"(by default); ask @{current} to assign Ops to you"
        )
    else:
        message = f"only the Ops holder records actions on {number}: Ops is held by @{current}"
    raise Forbidden(message, details={"role": "ops", "holder": current, "you": person})


def require_comms_or_ic(session: Session, *, incident: Incident, person: str) -> None:
    """Only the Comms holder or the IC speaks for the incident in public (the status page, issue 18)."""
    comms, by_default = holder(session, incident=incident, role="comms")
    ic = ic_holder(session, incident=incident)
    if person in (comms, ic):
        return
    number = rules.format_number(incident.number)
    if ic is None:
        message = f"nobody holds Comms on {number} yet (no IC): acknowledge it to become IC and hold Comms"
    elif by_default:
        message = (
            f"only the Comms holder or the IC publishes {number} to the status page: the IC @{ic} holds "
            f"Comms (by default); ask @{ic} to assign Comms to you"
        )
    else:
        message = (
            f"only the Comms holder or the IC publishes {number} to the status page: Comms is held by "
            f"@{comms}, IC by @{ic}"
        )
    raise Forbidden(message, details={"role": "comms", "holder": comms, "ic": ic, "you": person})
