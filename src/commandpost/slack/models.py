"""The command post in Slack: one ``slack_channel`` row per incident (issue 17).

The row is the processor's whole memory of the channel, so every Slack call is made once even with
two engine replicas and a crash in between: ``step`` is the next setup call (create, topic, invite,
bookmarks, opening message, announcement), ``cursor`` the last timeline entry the channel has been
told, ``claimed_by`` and ``next_attempt_at`` a claim (taken by a conditional UPDATE) or a backoff.
``next_attempt_at`` NULL on a ``created`` row means nothing is scheduled: the row is due when its
incident's timeline moves past ``cursor`` (or, waiting to archive, when its postmortem is Final).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base

PENDING, CREATED, ARCHIVED, FAILED = "pending", "created", "archived", "failed"
STATES = (PENDING, CREATED, ARCHIVED, FAILED)
"""``pending``: no channel yet; ``created``: the command post is live (or closed, waiting to archive);
``archived``: done; ``failed``: Slack refused for good (``last_error`` says what), nothing more is tried."""

CREATE, TOPIC, INVITE, BOOKMARK_RUNBOOK, BOOKMARK_INCIDENT, OPENING, ANNOUNCE = (
    "create",
    "topic",
    "invite",
    "bookmark_runbook",
    "bookmark_incident",
    "opening",
    "announce",
)
FOLLOW, ARCHIVE, DONE = "follow", "archive", "done"
SETUP = (CREATE, TOPIC, INVITE, BOOKMARK_RUNBOOK, BOOKMARK_INCIDENT, OPENING, ANNOUNCE)
STEPS = (*SETUP, FOLLOW, ARCHIVE, DONE)
"""Setup in order, then ``follow`` (post the timeline), ``archive`` (closed and summarised: archive
once the postmortem is Final), ``done`` (summarised, not archived: the org keeps channels)."""


class SlackChannel(Base):
    __tablename__ = "slack_channel"
    __table_args__ = (Index("ix_slack_channel_next_attempt_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=PENDING)
    step: Mapped[str] = mapped_column(String(20), default=CREATE)
    name: Mapped[str] = mapped_column(String(80), doc="the name asked for (a -2, -3… after name_taken)")
    channel_id: Mapped[str | None] = mapped_column(String(40), doc="Slack's C… id once created")
    cursor: Mapped[int] = mapped_column(Integer, default=0, doc="the last timeline entry told")
    opening_ts: Mapped[str | None] = mapped_column(String(40), doc="the opening message's ts (chat.update)")
    topic: Mapped[str | None] = mapped_column(String(250), doc="the topic last set")
    invited: Mapped[str] = mapped_column(
        String(2000), default="", doc="Slack user ids invited, comma-separated"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, doc="failed tries in a row (the backoff's n)")
    next_attempt_at: Mapped[datetime | None] = mapped_column(doc="claim expiry or backoff; NULL: none")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
