"""Acting on a page from wherever it landed: a one-tap link, an SMS reply, a keypress, a push action.

Each path proves *who* differently — a signed link bound to the message and person, the person's
own phone number through the provider's signed webhook — and all end here: acknowledge the
incident (or pass it on to the next level) as that person, say how on the timeline and in the
audit log ("acknowledged by @mei via SMS"), and mark the message acted on. A second use answers
who acknowledged and when, and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import Forbidden, NotFound
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.notify.models import OutgoingMessage
from commandpost.paging import service as paging_service
from commandpost.policy import service as policy_service
from commandpost.security import service as security_service
from commandpost.security.links import LinkSigner
from commandpost.security.rules import Principal

ActionName = Literal["ack", "escalate"]
_REPLY = re.compile(r"\s*(?:(ack|a|acknowledge|esc|escalate|e)\s*)?(\d{4})\s*[.!]?\s*", re.IGNORECASE)
ACTIONABLE_KINDS = ("page/", "test/")
VIA = {
    "push": "push",
    "sms": "SMS",
    "voice": "voice",
    "email": "email",
    "slack": "Slack",
    "webhook": "webhook",
}
"""How people name each channel in "acknowledged by @mei via SMS"."""


@dataclass(frozen=True, slots=True)
class Acted:
    """What came of it. ``done``: this call acted; else someone had already, and ``by``/``at`` say who
    and when. ``incident`` is ``INC-7`` (or ``test page`` for a page-test)."""

    done: bool
    action: ActionName
    incident: str
    person: str
    by: str | None = None
    at: datetime | None = None

    def sentence(self, timezone: str = "UTC", incident_zone: str | None = None) -> str:
        """One line for a confirmation page, an SMS answer or a voice prompt; with ``incident_zone``
        (the page), the incident's time in brackets where it differs, as the notifications do."""
        if self.incident == TEST:
            return f"Test page acknowledged by @{self.person}: this method works."
        if self.done:
            verb = "acknowledged" if self.action == "ack" else "passed on; the next level is being paged"
            return f"{self.incident} {verb} by @{self.person}."
        fmt = "%H:%M %Z on %d %b"
        when = timeline.local_for(self.at, timezone, incident_zone or timezone, fmt) if self.at else "earlier"
        if self.by:
            return f"{self.incident} was already acknowledged by @{self.by} at {when}."
        return f"{self.incident} is no longer open (since {when}); nothing was changed."


TEST = "test page"


def message_for(
    session: Session, *, message_id: int, person: str, incident_id: int | None
) -> OutgoingMessage:
    """The page a grant names, checked against what the message itself says (403 when they differ)."""
    message = session.get(OutgoingMessage, message_id)
    if message is None:
        raise NotFound("this page is no longer on record")
    if (
        message.person != person
        or message.incident_id != incident_id
        or not message.key.startswith(ACTIONABLE_KINDS)
    ):
        raise Forbidden("this link does not match the page it names")
    return message


def act_on_message(
    session: Session,
    *,
    message_id: int,
    person: str,
    incident_id: int | None,
    action: ActionName,
    via: str | None,
    now: datetime,
    base_url: str,
) -> Acted:
    """Acknowledge (or pass on) the incident ``message_id`` paged ``person`` about. ``via`` is how (None:
    the message's own channel — a link tapped in a push notification was acted on "via push")."""
    message = message_for(session, message_id=message_id, person=person, incident_id=incident_id)
    via = via or VIA.get(message.channel, message.channel)
    if message.incident_id is None:  # a page-test: acknowledging it proves the method works
        if message.acted is None:
            message.acted, message.acted_at = action, now
            _audit(
                session,
                person=person,
                action="page_test.ack",
                target=f"message:{message.id}",
                via=via,
                now=now,
            )
            return Acted(True, action, TEST, person)
        return Acted(False, action, TEST, person, by=person, at=message.acted_at)
    found = session.get(Incident, message.incident_id)
    if found is None:
        raise NotFound("the incident of this page is no longer on record")
    incident = timeline.lock(session, incident=found)
    number = incident_rules.format_number(incident.number)
    if incident.acknowledged_at is not None:
        return Acted(
            False,
            action,
            number,
            person,
            by=incident.acknowledged_by or "someone",
            at=incident.acknowledged_at,
        )
    if not incident_rules.is_open(incident.status):
        return Acted(False, action, number, person, at=incident.resolved_at or incident.closed_at)
    if action == "ack":
        incident_service.acknowledge(session, incident=incident, person=person, now=now, via=via)
    else:
        _pass_on(session, incident=incident, person=person, via=via, now=now, base_url=base_url)
    message.acted, message.acted_at = action, now
    _audit(session, person=person, action=f"page.{action}", target=f"incident:{number}", via=via, now=now)
    return Acted(True, action, number, person)


def _pass_on(
    session: Session, *, incident: Incident, person: str, via: str, now: datetime, base_url: str
) -> None:
    """ "I can't take this": the next level is paged now, and this person's later steps are not sent."""
    number = incident_rules.format_number(incident.number)
    notify_service.cancel_steps(
        session, incident_id=incident.id, now=now, person=person, reason=f"@{person} passed {number} on"
    )
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{number}: @{person} cannot take it (via {via}) — paging the next level",
        author=person,
        now=now,
        data={"passed_on": True, "via": via},
    )
    paging_service.escalate_now(session, incident=incident, actor=person, now=now, base_url=base_url)


def act_on_reply(
    session: Session,
    *,
    phone: str,
    text: str,
    via: str,
    now: datetime,
    base_url: str,
    signer: LinkSigner,
    ttl: timedelta,
) -> Acted | None:
    """An SMS reply from ``phone``: ``4821`` or ``ack 4821`` acknowledges, ``esc 4821`` passes it on.
    None when the text is no command (the caller answers with help); NotFound with a sentence for
    a number nobody has or a code that names none of that person's recent pages."""
    found = _REPLY.fullmatch(text[:100])
    if found is None:
        return None
    word, code = (found.group(1) or "ack").lower(), found.group(2)
    action: ActionName = "escalate" if word.startswith("e") else "ack"
    config = policy_service.current_config(session)
    person = next((p.handle for p in config.people if phone in (p.contact.phone, p.contact.sms)), None)
    if person is None:
        raise NotFound("this phone number belongs to nobody in people.yaml")
    recent = session.scalars(
        select(OutgoingMessage)
        .where(
            OutgoingMessage.person == person,
            OutgoingMessage.channel == "sms",
            OutgoingMessage.created_at >= now - ttl,
        )
        .order_by(OutgoingMessage.id.desc())
        .limit(200)
    )
    message = next(
        (m for m in recent if m.key.startswith(ACTIONABLE_KINDS) and signer.reply_code(m.id) == code), None
    )
    if message is None:
        raise NotFound(
            f"code {code} matches none of your pages of the last {int(ttl.total_seconds() // 3600)} h"
        )
    return act_on_message(
        session,
        message_id=message.id,
        person=person,
        incident_id=message.incident_id,
        action=action,
        via=via,
        now=now,
        base_url=base_url,
    )


def _audit(session: Session, *, person: str, action: str, target: str, via: str, now: datetime) -> None:
    """The person acted without a token: the audit row names them, no token, and how."""
    security_service.record_audit(
        session,
        principal=Principal(person=person, scope="responder"),
        action=action,
        target=target,
        now=now,
        details={"via": via},
    )
