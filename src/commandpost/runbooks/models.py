"""Runbook tables: checklists attached to incidents, their step states, and update requests.

- ``incident_runbook``: one row per (incident, runbook) — unique, so attaching twice is a no-op.
  It stores the parsed snapshot of the version attached (sections and steps with their ids), so
  a checklist keeps its step ids even when a later ops revision changes the runbook.
- ``runbook_step_state``: the latest state of one step of one attachment (unique per step);
  every change also writes a ``runbook_step`` timeline entry, which keeps the history.
- ``runbook_update_request``: written by postmortems (issue 7) when a postmortem asks for the
  runbook to be updated; lint rule RB015 reads it (``service.runbooks_flagged_for_update``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class IncidentRunbook(Base):
    __tablename__ = "incident_runbook"
    __table_args__ = (UniqueConstraint("incident_id", "slug"), Index("ix_incident_runbook_slug", "slug"))

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    ops_revision_id: Mapped[int | None] = mapped_column(ForeignKey("ops_revision.id"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(
        doc="the parsed runbook attached (model.Runbook.snapshot)"
    )
    source: Mapped[str] = mapped_column(
        String(20),
        doc="alert (the runbook of the alert that opened it) | manual | incident (the service's default)",
    )
    attached_at: Mapped[datetime]
    attached_by: Mapped[str] = mapped_column(String(100))


class RunbookStepState(Base):
    __tablename__ = "runbook_step_state"
    __table_args__ = (
        UniqueConstraint("attachment_id", "step_id"),
        Index("ix_runbook_step_state_slug_step_hash", "slug", "step_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("incident_runbook.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(40))
    step_hash: Mapped[str] = mapped_column(String(12), doc="the text hash: the same step across versions")
    section: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    has_command: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime]
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entry.id"))


class RunbookUpdateRequest(Base):
    """A postmortem of ``incident_id`` asked for runbook ``slug`` to be updated (one row per pair)."""

    __tablename__ = "runbook_update_request"
    __table_args__ = (UniqueConstraint("slug", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    source: Mapped[str] = mapped_column(String(200), doc="what asked, e.g. 'postmortem:12'")
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime]
