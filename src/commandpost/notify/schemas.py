"""Notifications over the API: a message, its attempts, and where it went (webhook URLs masked)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from commandpost.notify.models import OutgoingAttempt, OutgoingMessage
from commandpost.notify.rules import mask_destination


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: datetime
    duration_ms: int | None
    status_code: int | None
    error: str | None
    outcome: str
    sender: str


class NotificationOut(BaseModel):
    id: int
    key: str
    channel: str
    destination: str
    subject: str
    severity: str | None
    incident_id: int | None
    person: str | None
    status: str
    delivered: bool
    late: bool
    attempts: int
    created_at: datetime
    due_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    history: list[AttemptOut]

    @classmethod
    def of(cls, message: OutgoingMessage, attempts: list[OutgoingAttempt]) -> NotificationOut:
        waiting = message.status in ("pending", "sending")
        return cls(
            id=message.id,
            key=message.key,
            channel=message.channel,
            destination=mask_destination(message.channel, message.destination),
            subject=message.subject,
            severity=message.severity,
            incident_id=message.incident_id,
            person=message.person,
            status=message.status,
            delivered=message.status == "delivered",
            late=message.late,
            attempts=message.attempts,
            created_at=message.created_at,
            due_at=message.due_at,
            next_attempt_at=message.next_attempt_at if waiting else None,
            sent_at=message.sent_at,
            last_error=message.last_error,
            history=[AttemptOut.model_validate(a) for a in attempts],
        )
