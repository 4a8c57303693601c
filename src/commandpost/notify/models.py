"""The outbox: one ``outgoing_message`` row per message to send, its attempts, and per-destination pacing.

The rows *are* the queue, so a restart loses nothing. ``key`` is the caller's idempotency key
(incident, level, person, channel, repeat) under a UNIQUE constraint: a second engine replica
deciding the same page inserts nothing.

``next_attempt_at`` is the one due column the sender polls (index ``status, next_attempt_at``):
for a ``pending`` row it is when the next attempt may start; for a ``sending`` row it is when
the claim expires, after which another sender takes the message back (it was in flight when
its sender died).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base

CHANNELS = ("console", "slack", "email", "webhook", "push", "sms", "voice")
PENDING, SENDING, DELIVERED, DEAD, CANCELLED = "pending", "sending", "delivered", "dead", "cancelled"
STATUSES = (PENDING, SENDING, DELIVERED, DEAD, CANCELLED)
"""``cancelled``: a later step of someone's notification rules, not sent because the page was
acknowledged (or resolved, or passed on) before it fell due."""
RECEIPTS = ("sent", "delivered", "undelivered", "failed")
"""What a provider's delivery callback said, in the order a message goes (the furthest one is kept)."""


class OutgoingMessage(Base):
    __tablename__ = "outgoing_message"
    __table_args__ = (Index("ix_outgoing_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(10))
    incident_id: Mapped[int | None] = mapped_column(index=True)
    person: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_limit: Mapped[int | None] = mapped_column(
        doc="None: the sender's notify_max_attempts; a manual retry raises it"
    )
    created_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(doc="not_before, or created_at: lateness is measured from here")
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(
        String(100), index=True, doc="the provider's id for it (Twilio SM…/CA…, Vonage message-id, ntfy id)"
    )
    receipt: Mapped[str | None] = mapped_column(String(20), doc="the provider's last delivery callback")
    receipt_at: Mapped[datetime | None]
    acted: Mapped[str | None] = mapped_column(String(20), doc="ack | escalate: the recipient acted by it")
    acted_at: Mapped[datetime | None]


class OutgoingAttempt(Base):
    """One try at sending: when, how long, what the far end said. ``outcome`` is what followed."""

    __tablename__ = "outgoing_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outgoing_message.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    at: Mapped[datetime]
    duration_ms: Mapped[int | None]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20), doc="delivered | retry | dead | interrupted")
    sender: Mapped[str] = mapped_column(String(100))


class OutgoingPace(Base):
    """When a destination may be sent to next: Slack pacing and a 429's Retry-After, shared by replicas."""

    __tablename__ = "outgoing_pace"

    destination_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime]


MESSAGES = cast(Table, OutgoingMessage.__table__)
ATTEMPTS = cast(Table, OutgoingAttempt.__table__)
PACES = cast(Table, OutgoingPace.__table__)
"""Core tables, for the sender's batched conditional UPDATEs (executemany) and multi-row INSERTs."""
