"""Incident tables: the incident, its append-only timeline, role holders, handover offers, the number counter.

Invariants live in the schema where a database can keep them:
- ``incident.number`` is unique and allocated from ``incident_counter`` by an atomic
  ``UPDATE … SET value = value + 1 RETURNING value``;
- ``incident.open_group`` (service + group key while open, else NULL) is unique, so two alerts
  racing to open the same incident end with one incident;
- ``incident_role`` has one row per (incident, role), so the IC role has at most one holder, and
  services never delete the IC row, so once set it has exactly one;
- ``role_offer.pending_marker`` is 1 while pending and NULL otherwise; the unique
  (incident, role, pending_marker) allows one pending offer per role (NULLs never collide);
- ``timeline_entry`` is append-only: the migration installs triggers refusing UPDATE and DELETE,
  and the ORM refuses them too;
- ``public_update`` is what the public status page shows, and nothing else is: each row is one
  update Comms (or the IC) published, with the state it was published with (issue 18);
  ``maintenance_window`` the planned work it announces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class IncidentCounter(Base):
    __tablename__ = "incident_counter"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_service_status", "service", "status"),
        Index("ix_incident_comms_due_at", "comms_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="", doc="customer / business impact")
    service: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_loss: Mapped[bool] = mapped_column(Boolean, default=False)
    manual_intervention: Mapped[bool] = mapped_column(Boolean, default=False)
    detection: Mapped[str] = mapped_column(String(20), doc="manual (declared) or automatic (from an alert)")
    channel: Mapped[str] = mapped_column(String(100), index=True, doc="the command post")
    group_key: Mapped[str | None] = mapped_column(String(300), doc="alert routing group")
    open_group: Mapped[str | None] = mapped_column(
        String(420), unique=True, doc="service + group key while open, NULL otherwise"
    )
    runbook: Mapped[str | None] = mapped_column(String(100))
    no_runbook: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))

    impact_started_at: Mapped[datetime | None]
    detected_at: Mapped[datetime]
    declared_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_via: Mapped[str | None] = mapped_column(
        String(20), doc="how the first ack came: web, API, CLI, link, SMS, voice, push, email, Slack"
    )
    identified_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    last_comms_at: Mapped[datetime | None]
    comms_due_at: Mapped[datetime | None]
    comms_reminded_for: Mapped[datetime | None] = mapped_column(
        doc="start of the overdue period the last reminder was written for (one reminder per period)"
    )
    updated_at: Mapped[datetime] = mapped_column(doc="time of the latest timeline entry; never decreases")


class TimelineEntry(Base):
    __tablename__ = "timeline_entry"
    __table_args__ = (Index("ix_timeline_entry_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entry.id"))


class IncidentRole(Base):
    """An explicit holder of a role. A role without a row is held by the IC by default."""

    __tablename__ = "incident_role"
    __table_args__ = (UniqueConstraint("incident_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    role: Mapped[str] = mapped_column(String(20))
    holder: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(100))


class RoleOffer(Base):
    __tablename__ = "role_offer"
    __table_args__ = (
        UniqueConstraint("incident_id", "role", "pending_marker"),
        Index("ix_role_offer_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    role: Mapped[str] = mapped_column(String(20))
    from_person: Mapped[str | None] = mapped_column(String(100), doc="holder when offered")
    to_person: Mapped[str] = mapped_column(String(100))
    offered_by: Mapped[str] = mapped_column(String(100))
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    pending_marker: Mapped[int | None] = mapped_column(Integer, default=1)
    answered_at: Mapped[datetime | None]


class PublicUpdate(Base):
    """One update published to the status page: its public title and message (never the internal
    ones), the incident's public state *as published* (``investigating`` … ``resolved``) and the state
    of each affected service then (service name → ``operational`` … ``maintenance``)."""

    __tablename__ = "public_update"
    __table_args__ = (
        Index("ix_public_update_incident_id_id", "incident_id", "id"),
        Index("ix_public_update_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("timeline_entry.id"), doc="the comms entry it made")
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    services: Mapped[dict[str, Any]] = mapped_column(default=dict)


@event.listens_for(TimelineEntry, "before_update")
@event.listens_for(TimelineEntry, "before_delete")
def _append_only(_mapper: Any, _connection: Any, target: TimelineEntry) -> None:
    raise RuntimeError(
        f"timeline entry {target.id} is append-only: write a correction entry (corrects_id) instead"
    )


class MaintenanceWindow(Base):
    """Planned work announced on the status page (issue 18): while ``starts_at <= now < ends_at`` (and
    not cancelled) its services show "Under maintenance"; before, the window is listed as upcoming.
    Public text only: the title and message are what the public reads."""

    __tablename__ = "maintenance_window"
    __table_args__ = (Index("ix_maintenance_window_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    services: Mapped[list[Any]] = mapped_column(default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))


class StatusSubscriber(Base):
    """An email address that asked for the status page's updates (issue 18). Only the address is
    kept; it receives updates once ``confirmed_at`` is set (double opt-in), and unsubscribing deletes
    the row. An address never confirmed is forgotten after a day."""

    __tablename__ = "status_subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
