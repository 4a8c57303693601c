"""What the incidents domain tells people directly: the Comms holder when an update is overdue, the
person a role is offered to. :mod:`commandpost.wiring` connects these to :mod:`commandpost.incidents.hooks`.

Both hooks run inside the caller's transaction (the engine's comms-reminder pass, the offer's
request) and only *decide*: one ``outgoing_message`` per contact method of the person, through
:func:`commandpost.notify.service.enqueue` (redacted, ``ON CONFLICT (key) DO NOTHING``); the
sender sends after commit. Keys name what makes each message distinct and nothing a second
replica would see differently:

- ``comms-overdue/incident=INC-7/period=20260624T033000Z/to=hana/channel=slack`` — once per
  incident and overdue period (the reminder itself is already taken once by a conditional update);
- ``role-offer/incident=INC-7/offer=12/to=hana/channel=slack`` — once per offer;
- ``offer-closed/incident=INC-7/offer=12/state=declined/to=yuta/channel=slack`` — to the offerer, once
  per offer when it is declined or expires.

A message that cannot be decided (the person is not in ``people.yaml``, no ops applied, a bug)
is logged and skipped inside a savepoint: telling someone never costs the reminder or the offer.

The command post itself is announced by paging's FYI to the severity route's ``notify`` targets
(the team channel), which carries the channel name (:mod:`commandpost.paging.page`); nothing is
registered on ``command_post_opened`` here, so the channel is not told twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from commandpost import public_url
from commandpost.engine import wakeup
from commandpost.errors import NotFound, Unavailable
from commandpost.incidents import roles, rules, timeline
from commandpost.incidents.models import Incident, RoleOffer, TimelineEntry
from commandpost.notify import service as notify_service
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.settings import Settings

log = logging.getLogger("commandpost.notify")

COMMS_OVERDUE = "comms-overdue"
ROLE_OFFER = "role-offer"
OFFER_CLOSED = "offer-closed"


def incident_url(session: Session, number: str, settings: Settings) -> str:
    """The incident's page on the server that serves it: the public URL ``serve`` recorded in the
    database (:mod:`commandpost.public_url`), else the settings the root wired this process with, +
    ``/incidents/INC-7``. Notices run in whichever process made the change (a request, the engine, a
    CLI): the database is what every one of them shares with the server."""
    return f"{public_url.base_url(session, settings).rstrip('/')}/incidents/{number}"


def _headline(incident: Incident, number: str) -> str:
    where = f"{incident.service}: " if incident.service else ""
    return f"[{incident.severity}] {number} {where}{incident.title}"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def overdue_text(delta: timedelta) -> str:
    """``overdue by 30m`` (whole minutes); ``due now`` within the first minute."""
    minutes = int(delta.total_seconds() // 60)
    return f"overdue by {format_duration(timedelta(minutes=minutes))}" if minutes > 0 else "due now"


def _tell(
    session: Session,
    config: OpsConfig,
    incident: Incident,
    *,
    person: str,
    kind: str,
    key_parts: dict[str, Any],
    subject: str,
    body: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """One message per contact method of ``person`` (their ``people.yaml`` choice for the incident's
    severity, then the console). Returns how many were queued (0: already queued, or not decidable)."""
    try:
        with session.begin_nested():
            queued = notify_service.enqueue_each(
                session,
                destinations=notify_service.destinations_for_person(config, person, incident.severity),
                kind=kind,
                key_parts={**key_parts, "to": person},
                subject=subject,
                body=body,
                severity=incident.severity,
                incident_id=incident.id,
                person=person,
                payload=payload,
                now=now,
            )
    except NotFound as exc:  # e.g. a declarer who is not in people.yaml: nowhere to send
        log.warning("%s: cannot tell @%s (%s): %s", key_parts.get("incident"), person, kind, exc.message)
        return 0
    except Exception:  # a notice must never cost the reminder or the offer it is about
        log.exception("%s: cannot tell @%s (%s)", key_parts.get("incident"), person, kind)
        return 0
    if queued:
        wakeup.request(session)
    return queued


def _config(session: Session) -> OpsConfig | None:
    try:
        return policy_service.current_config(session)
    except Unavailable:
        log.warning("no ops revision is applied: incident notices are not decided")
        return None


# ------------------------------------------------------------------ comms overdue → the Comms holder


def comms_overdue(
    session: Session, incident: Incident, entry: TimelineEntry, now: datetime, *, settings: Settings
) -> int:
    """Tell the effective Comms holder (the IC unless Comms is delegated) that an update is overdue."""
    holder, by_default = roles.holder(session, incident=incident, role="comms")
    number = rules.format_number(incident.number)
    if holder is None:
        log.info("%s: comms overdue, nobody holds Comms yet: timeline only", number)
        return 0
    config = _config(session)
    if config is None:
        return 0
    data = entry.data or {}
    due = _aware(datetime.fromisoformat(data["due_at"])) if data.get("due_at") else _aware(now)
    period = _aware(datetime.fromisoformat(data["period"])) if data.get("period") else due
    due_local = timeline.local_for(due, _zone(config, holder), config.settings.timezone)
    cadence = config.comms_cadence(incident.severity)
    every = (
        f"{incident.severity}: an update every {format_duration(cadence)}" if cadence else incident.severity
    )
    late = overdue_text(_aware(now) - due)
    url = incident_url(session, number, settings)
    command = f"commandpost comms {number} update"
    held = f"You hold Comms on {number}" + (" (as IC, by default)" if by_default else "") + "."
    body = "\n".join(
        [
            _headline(incident, number),
            f"Comms update {late}: it was due at {due_local} ({every}).",
            held,
            f"Post one: {command}",
            f"Incident: {url}",
        ]
    )
    return _tell(
        session,
        config,
        incident,
        person=holder,
        kind=COMMS_OVERDUE,
        key_parts={"incident": number, "period": period.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")},
        subject=f"[{incident.severity}] {number} comms update {late}: {incident.title}",
        body=body,
        payload={
            "kind": COMMS_OVERDUE,
            "incident": number,
            "url": url,
            "due_at": due.isoformat(),
            "period": period.isoformat(),
            "overdue_seconds": max(0, int((_aware(now) - due).total_seconds())),
            "command": command,
        },
        now=now,
    )


# ------------------------------------------------------------------ role offered → the person offered


def _zone(config: OpsConfig, handle: str) -> str:
    """The recipient's own timezone (people.yaml), else the org's."""
    person = config.person(handle)
    return person.timezone if person is not None else config.settings.timezone


class _Offer(NamedTuple):
    """What both offer notices say of an offer: the applied ops, ``INC-7``, the role's name, the link."""

    config: OpsConfig
    number: str
    label: str
    url: str

    @classmethod
    def of(cls, session: Session, incident: Incident, offer: RoleOffer, settings: Settings) -> _Offer | None:
        config = _config(session)
        if config is None:
            return None
        number = rules.format_number(incident.number)
        label = rules.ROLE_LABELS.get(offer.role, offer.role)
        return cls(config, number, label, incident_url(session, number, settings))


def role_offered(
    session: Session, incident: Incident, offer: RoleOffer, now: datetime, *, settings: Settings
) -> int:
    """Tell the person offered a role: who offers which role on which incident, until when, how to accept."""
    about = _Offer.of(session, incident, offer, settings)
    if about is None:
        return 0
    config, number, label, url = about
    until = timeline.local_for(
        _aware(offer.expires_at), _zone(config, offer.to_person), config.settings.timezone, "%H:%M:%S %Z"
    )
    holder = f"@{offer.from_person}" if offer.from_person else "its holder"
    accept = f"commandpost role accept {number} {offer.role}"
    decline = f"commandpost role decline {number} {offer.role}"
    body = "\n".join(
        [
            _headline(incident, number),
            f"@{offer.offered_by} offers you {label} on {number}.",
            f"The offer expires at {until}; until you accept, {label} stays with {holder}.",
            f"Accept: {accept}",
            f"Decline: {decline}",
            f"Incident: {url}",
        ]
    )
    return _tell(
        session,
        config,
        incident,
        person=offer.to_person,
        kind=ROLE_OFFER,
        key_parts={"incident": number, "offer": offer.id},
        subject=f"[{incident.severity}] {number} {label} offered to you by @{offer.offered_by}: "
        f"{incident.title}",
        body=body,
        payload={
            "kind": ROLE_OFFER,
            "incident": number,
            "url": url,
            "role": offer.role,
            "offered_by": offer.offered_by,
            "expires_at": _aware(offer.expires_at).isoformat(),
            "command": accept,
        },
        now=now,
    )


# ------------------------------------------------------------------ offer declined / expired → the offerer


def offer_closed(
    session: Session, incident: Incident, offer: RoleOffer, now: datetime, *, settings: Settings
) -> int:
    """Tell whoever made an offer that it was declined or expired, and who holds the role still."""
    if offer.state not in ("declined", "expired"):
        return 0
    about = _Offer.of(session, incident, offer, settings)
    if about is None:
        return 0
    config, number, label, url = about
    current, _ = roles.holder(session, incident=incident, role=offer.role)
    what = "declined" if offer.state == "declined" else "expired unanswered"
    body = "\n".join(
        [
            _headline(incident, number),
            f"Your offer of {label} on {number} to @{offer.to_person} {what}; {label} stays with @{current}.",
            f"Offer it to someone else: commandpost role offer {number} {offer.role} PERSON",
            f"Incident: {url}",
        ]
    )
    return _tell(
        session,
        config,
        incident,
        person=offer.offered_by,
        kind=OFFER_CLOSED,
        key_parts={"incident": number, "offer": offer.id, "state": offer.state},
        subject=f"[{incident.severity}] {number} {label} offer to @{offer.to_person} {what}",
        body=body,
        payload={
            "kind": OFFER_CLOSED,
            "incident": number,
            "url": url,
            "role": offer.role,
            "to": offer.to_person,
            "state": offer.state,
            "holder": current,
        },
        now=now,
    )
