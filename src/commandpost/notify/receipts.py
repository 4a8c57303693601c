"""What happened after a send: providers' delivery receipts, and falling through to the next method.

A text Twilio accepted may still never reach the handset (switched off, a landline, a carrier
filter); its status callback says so minutes later. A page that cannot reach a person on one
method must not wait for the next rule step: it *falls through* — the person's next pending step
of the same page is due at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from commandpost.notify.models import MESSAGES, PENDING, RECEIPTS, OutgoingMessage

FAILED_RECEIPTS = ("undelivered", "failed")


def record_receipt(
    session: Session, *, provider: str, provider_ref: str, state: str, error_code: str | None, now: datetime
) -> bool:
    """A provider's delivery callback about the message it knows as ``provider_ref``. Keeps the furthest
    state (callbacks may arrive out of order); a failed delivery of a page falls through. False: no
    message has that id (a callback for something we did not send, or already forgotten)."""
    if state not in RECEIPTS:
        return False
    message = session.scalars(
        select(OutgoingMessage).where(OutgoingMessage.provider_ref == provider_ref).limit(1)
    ).first()
    if message is None:
        return False
    if message.receipt is not None and RECEIPTS.index(message.receipt) >= RECEIPTS.index(state):
        return True
    message.receipt, message.receipt_at = state, now
    if state in FAILED_RECEIPTS:
        detail = f"{provider} reported {state}" + (f" (error {error_code})" if error_code else "")
        message.last_error = detail
        fall_through(
            session, incident_id=message.incident_id, person=message.person, key=message.key, now=now
        )
    session.flush()
    return True


def fall_through(
    session: Session, *, incident_id: int | None, person: str | None, key: str, now: datetime
) -> int:
    """After the page ``key`` failed for good: the person's next waiting step of the same incident's
    page is due now (returns how many messages moved)."""
    if person is None or incident_id is None or not key.startswith("page/"):
        return 0
    waiting = (
        MESSAGES.c.incident_id == incident_id,
        MESSAGES.c.person == person,
        MESSAGES.c.status == PENDING,
        MESSAGES.c.key.like("page/%"),
        MESSAGES.c.due_at > now,
    )
    nearest = session.scalar(select(MESSAGES.c.due_at).where(*waiting).order_by(MESSAGES.c.due_at).limit(1))
    if nearest is None:
        return 0
    result = session.execute(
        update(MESSAGES).where(*waiting, MESSAGES.c.due_at == nearest).values(due_at=now, next_attempt_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
