"""``commandpost page-test @mei``: a test page through each of a person's methods, and what came of it.

The only way to know that a page will wake someone is to send one: the number may be mistyped,
ntfy's "Max priority" may not override Do Not Disturb, the mail may land in spam. A test page goes
out on every method the person has (voice too), carries the same one-tap Acknowledge as a real
page, touches no incident, and its report says per method: delivered or not, acknowledged or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import NotFound
from commandpost.notify import service as notify_service
from commandpost.notify.models import OutgoingMessage
from commandpost.notify.rules import mask_destination
from commandpost.policy.opsfiles import METHODS, OpsConfig

KIND = "test"


@dataclass(frozen=True, slots=True)
class MethodResult:
    channel: str
    destination: str
    status: str
    receipt: str | None
    acknowledged_at: datetime | None
    error: str | None


def send(session: Session, *, config: OpsConfig, person: str, by: str, now: datetime) -> str:
    """Queue one test page per contact method of ``person``; returns the test's id (its key prefix)."""
    who = config.person(person.lstrip("@"))
    if who is None:
        raise NotFound(f"people.yaml has no person {person!r}")
    test_id = f"{KIND}/person={who.handle}/at={int(now.timestamp())}"
    pairs = [(m, who.contact.address(m) or "") for m in METHODS if m != "console"]
    notify_service.enqueue_each(
        session,
        destinations=[(m, a) for m, a in pairs if a] + [("console", f"@{who.handle}")],
        kind=KIND,
        key_parts={"person": who.handle, "at": int(now.timestamp())},
        subject=f"[TEST] commandpost test page for @{who.handle}",
        body=(
            f"This is a test page for @{who.handle}, sent by @{by.lstrip('@')}. No incident is open.\n"
            "Acknowledge it to confirm this method reaches you (a real page looks the same)."
        ),
        severity=None,
        incident_id=None,
        person=who.handle,
        payload={"kind": KIND, "urgency": "high", "incident": "TEST", "title": "test page"},
        now=now,
    )
    return test_id


def latest(session: Session, *, person: str) -> tuple[str | None, list[MethodResult]]:
    """The newest test of ``person``: its id and each method's outcome."""
    handle = person.lstrip("@")
    newest = session.scalar(
        select(OutgoingMessage.key)
        .where(OutgoingMessage.person == handle, OutgoingMessage.key.like(f"{KIND}/person={handle}/%"))
        .order_by(OutgoingMessage.id.desc())
        .limit(1)
    )
    if newest is None:
        return None, []
    test_id = newest.rsplit("/", 1)[0]
    rows = session.scalars(
        select(OutgoingMessage).where(OutgoingMessage.key.like(f"{test_id}/%")).order_by(OutgoingMessage.id)
    )
    return test_id, [
        MethodResult(
            channel=m.channel,
            destination=mask_destination(m.channel, m.destination),
            status=m.status,
            receipt=m.receipt,
            acknowledged_at=m.acted_at if m.acted == "ack" else None,
            error=m.last_error,
        )
        for m in rows
    ]
