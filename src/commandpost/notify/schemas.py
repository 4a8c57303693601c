"""Notifications over the API: a message, its attempts, and where it went (webhook URLs masked)."""

from __future__ import annotations

from datetime import datetime

from commandpost.notify.models import OutgoingAttempt, OutgoingMessage
from commandpost.notify.rules import mask_destination
from commandpost.responses import Out, computed


class AttemptOut(Out):
    number: int
    at: datetime
    duration_ms: int | None
    status_code: int | None
    error: str | None
    outcome: str
    sender: str


class NotificationOut(Out):
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
        """Computed: the destination masked, whether it was delivered, the next attempt only while one
        is still to come, and its ``attempts`` (rows of their own) as its history."""
        waiting = message.status in ("pending", "sending")
        return cls.model_validate(
            computed(
                message,
                destination=mask_destination(message.channel, message.destination),
                delivered=message.status == "delivered",
                next_attempt_at=message.next_attempt_at if waiting else None,
                history=attempts,
            )
        )
