"""Postmortem tables: one postmortem per incident, its final revisions, and its action items.

- ``postmortem.incident_id`` is unique: the engine and a person starting one at the same time end
  with one row. Every evaluated incident has a row, ``not_required`` included, so the criteria
  result and its reasons are stored and shown whatever they say.
- ``evaluated_for`` is the incident's ``updated_at`` the criteria last saw: the engine re-evaluates
  when the live document has moved on ("again on any later change").
- ``postmortem_revision`` keeps every Final version (unique per postmortem and revision number):
  editing a Final postmortem writes a new revision and never touches the old one.
- ``action_item`` reminders: ``reminded_before_for`` / ``reminded_after_for`` hold the due date a
  reminder was written for, so moving the due date re-arms them; the outgoing messages themselves
  carry an idempotency key (item, kind, due date, channel).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class Postmortem(Base):
    __tablename__ = "postmortem"
    __table_args__ = (Index("ix_postmortem_status_finalized_at", "status", "finalized_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), doc="not_required | draft | in_review | final")
    title: Mapped[str] = mapped_column(String(300))
    author: Mapped[str | None] = mapped_column(String(100), doc="the IC when drafted")
    reviewer: Mapped[str | None] = mapped_column(String(100))
    required: Mapped[bool]
    criteria: Mapped[dict[str, Any]] = mapped_column(doc="criteria.CriteriaResult.to_dict()")
    evaluated_at: Mapped[datetime]
    evaluated_for: Mapped[datetime] = mapped_column(doc="incident.updated_at when last evaluated")
    sections: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="section name → Markdown text")
    edited: Mapped[list[Any]] = mapped_column(
        default=list, doc="sections a person wrote: a re-generated draft leaves them alone"
    )
    facts: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="measured numbers and the transcribed timeline rows (draft.Facts.to_dict())"
    )
    no_action_reason: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=0, doc="latest Final revision; 0 before Final")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(100))


class PostmortemRevision(Base):
    __tablename__ = "postmortem_revision"
    __table_args__ = (UniqueConstraint("postmortem_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id"))
    revision: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20), doc="approved | edited")
    title: Mapped[str] = mapped_column(String(300))
    author: Mapped[str | None] = mapped_column(String(100))
    reviewer: Mapped[str | None] = mapped_column(String(100))
    sections: Mapped[dict[str, Any]]
    facts: Mapped[dict[str, Any]]
    criteria: Mapped[dict[str, Any]]
    action_items: Mapped[list[Any]] = mapped_column(doc="the action items as they were")
    no_action_reason: Mapped[str | None] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text, doc="the rendered revision, exactly as it read")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class ActionItem(Base):
    __tablename__ = "action_item"
    __table_args__ = (
        Index("ix_action_item_status_due", "status", "due"),
        Index("ix_action_item_owner", "owner"),
        UniqueConstraint("postmortem_id", "origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    title: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20), doc="prevent | mitigate | process")
    owner: Mapped[str] = mapped_column(String(100))
    due: Mapped[date] = mapped_column(Date, doc="a day in the org's timezone")
    ticket: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), doc="open | in_progress | done | wontfix")
    verification: Mapped[str | None] = mapped_column(Text)
    runbook: Mapped[str | None] = mapped_column(String(100), doc="a runbook to update when Final")
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str | None] = mapped_column(
        String(30), doc="'missing-alert' for the pre-filled monitoring item (one per postmortem); else NULL"
    )
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    reminded_before_for: Mapped[date | None] = mapped_column(Date)
    reminded_after_for: Mapped[date | None] = mapped_column(Date)


class ActionTicket(Base):
    """An action item's ticket in the team's tracker (issue 21): the link, and the state last read.

    One per item. ``(tracker, external_id)`` is unique: a webhook names the ticket, never our id.
    ``sync_due_at`` is indexed: the engine reads only the tickets due by now, a batch at a time.
    """

    __tablename__ = "action_ticket"
    __table_args__ = (
        UniqueConstraint("tracker", "external_id"),
        Index("ix_action_ticket_sync_due_at", "sync_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_item_id: Mapped[int] = mapped_column(ForeignKey("action_item.id"), unique=True)
    tracker: Mapped[str] = mapped_column(String(10), doc="github | gitlab | jira | linear")
    external_id: Mapped[str] = mapped_column(String(300), doc="owner/repo#12, <project id>#3, OPS-24, a UUID")
    key: Mapped[str] = mapped_column(String(300), doc="what people read: acme/payments#12, OPS-24")
    url: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(100), doc="the tracker's own word, as last read")
    status: Mapped[str] = mapped_column(String(10), doc="open | done | dropped")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    synced_at: Mapped[datetime | None] = mapped_column(doc="when the state was last read or pushed")
    sync_due_at: Mapped[datetime | None] = mapped_column(doc="the next periodic read")
    last_error: Mapped[str | None] = mapped_column(Text, doc="why the last read failed (no secret)")


class TrackerDelivery(Base):
    """A tracker's webhook delivery already applied, by the id the tracker gives it (GitHub's
    ``X-GitHub-Delivery``…): a replay — a redelivery, or someone resending a captured request whose
    signature is still good — is answered and changes nothing. Kept 7 days (``received_at``
    indexed: older rows are pruned as new ones arrive)."""

    __tablename__ = "tracker_delivery"
    __table_args__ = (
        UniqueConstraint("tracker", "delivery_id"),
        Index("ix_tracker_delivery_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracker: Mapped[str] = mapped_column(String(10), doc="github | gitlab | jira | linear")
    delivery_id: Mapped[str] = mapped_column(String(100), doc="the tracker's id of the delivery")
    received_at: Mapped[datetime]
