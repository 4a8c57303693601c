"""Alert tables. The invariants that must hold under concurrent deliveries live in the schema:

- ``alert.open_dedup_key`` is the dedup key while the alert is open and NULL once resolved; the
  unique (integration_id, open_dedup_key) allows one *open* alert per key, so two first triggers
  racing each other end with one alert (the loser's ``INSERT … ON CONFLICT DO NOTHING`` inserts
  nothing and it bumps the winner's count instead). NULLs never collide, so any number of
  resolved alerts share a key.
- ``alert_event`` (integration_id, idempotency_key) is unique: a retried delivery that names
  itself (SNS ``MessageId``, generic ``idempotency_key``) changes nothing. Rows are also written for
  events that touch no alert (acknowledge/resolve of an unknown key, "record" events), so every
  accepted event is either counted on an alert or recorded here.
- ``change_event``: deploys and other changes per service, newest first, for "recent changes".
- ``heartbeat``: one row per declared heartbeat, its next due time indexed for the engine.
- ``sns_subscription`` (integration_id, message_id) is unique: an SNS (un)subscription confirmation is
  kept once, with its SubscribeURL whole for an admin to confirm (see :class:`SnsSubscription`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base

ALERT_STATUSES = ("triggered", "acknowledged", "resolved")


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("integration_id", "open_dedup_key"),
        Index("ix_alert_service_status", "service", "status"),
        Index("ix_alert_incident_id", "incident_id"),
        # Only alerts still to be announced keep notify_after: the engine's due scan reads these few.
        Index(
            "ix_alert_notify_after",
            "notify_after",
            sqlite_where=text("notify_after IS NOT NULL"),
            postgresql_where=text("notify_after IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration_key.id"))
    integration: Mapped[str] = mapped_column(String(100))
    service: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20), doc="pagerduty, alertmanager, grafana, sns, generic")
    dedup_key: Mapped[str] = mapped_column(String(255))
    open_dedup_key: Mapped[str | None] = mapped_column(String(255), doc="dedup_key while open, else NULL")
    status: Mapped[str] = mapped_column(String(20), doc="triggered, acknowledged, resolved")
    severity: Mapped[str] = mapped_column(String(10), doc="the SEV the service's rules gave it")
    paging: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20), doc="what its first trigger did")
    rule: Mapped[int | None] = mapped_column(Integer, doc="index of the matched alert rule; NULL: default")
    source_severity: Mapped[str] = mapped_column(String(50), default="")
    alertname: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(200), default="", doc="the affected system (PD source)")
    group_key: Mapped[str] = mapped_column(String(300))
    runbook: Mapped[str | None] = mapped_column(String(500), doc="runbook slug, or an external URL")
    no_runbook: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    links: Mapped[list[Any]] = mapped_column(default=list)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="the body it came from, redacted, capped")
    count: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    notify_after: Mapped[datetime | None] = mapped_column(
        doc="non-paging SEV3: when the team channel should hear of it (next business hours); "
        "NULL once decided (paging.alert_notices)"
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    incident_number: Mapped[int | None] = mapped_column(Integer, doc="copied so a repeat needs no join")


class AlertEvent(Base):
    __tablename__ = "alert_event"
    __table_args__ = (UniqueConstraint("integration_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration_key.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(20))
    dedup_key: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    summary: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ChangeEvent(Base):
    __tablename__ = "change_event"
    __table_args__ = (Index("ix_change_event_service_occurred_at", "service", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration_key.id"))
    service: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(200), default="", doc="what made the change (PD source)")
    occurred_at: Mapped[datetime] = mapped_column(doc="the event's timestamp, else when it arrived")
    received_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    links: Mapped[list[Any]] = mapped_column(default=list)


class SnsSubscription(Base):
    """An SNS SubscriptionConfirmation (or UnsubscribeConfirmation) and what became of it.

    ``subscribe_url`` keeps the SubscribeURL *with its Token*, unredacted — the one column that
    does, because an operator must be able to use it (``commandpost integrations confirm``) when
    ``sns_auto_confirm`` is off. Only admins read it (``GET /api/v1/integrations/subscriptions``,
    the local admin CLI); it is cleared once the subscription is confirmed or superseded. Every
    other copy of the delivery (``alert_event.raw``, its summary, logs) has the token redacted.
    """

    __tablename__ = "sns_subscription"
    __table_args__ = (
        UniqueConstraint("integration_id", "message_id"),
        Index("ix_sns_subscription_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration_key.id"))
    integration: Mapped[str] = mapped_column(String(100))
    service: Mapped[str] = mapped_column(String(100))
    topic_arn: Mapped[str] = mapped_column(String(400))
    message_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), doc="pending, confirmed, unsubscribed, superseded")
    subscribe_url: Mapped[str | None] = mapped_column(
        Text, doc="with its Token (admins only); NULL once confirmed or superseded"
    )
    subscription_arn: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(100), doc="who confirmed: a person, or 'auto'")


class Heartbeat(Base):
    """A declared heartbeat (``services/*.yaml`` ``heartbeats:``) and when its next ping is due.

    ``due_at`` is the last ping (or the apply that declared it) + interval + grace, and NULL while
    the heartbeat is missed (its ``HeartbeatMissed`` alert is open until the next ping). The engine
    reads only rows with ``due_at <= now``, through ``ix_heartbeat_due_at``: a pass costs the misses
    it finds, not the number of heartbeats. One row per integration key of source ``heartbeat``;
    removed from ops, the row goes (the key is deactivated, as any integration's).
    """

    __tablename__ = "heartbeat"
    __table_args__ = (
        UniqueConstraint("integration_id"),
        UniqueConstraint("name"),
        Index("ix_heartbeat_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration_key.id"))
    name: Mapped[str] = mapped_column(String(100))
    service: Mapped[str] = mapped_column(String(100))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(doc="when a missing ping becomes a miss; NULL: missed")
    last_ping_at: Mapped[datetime | None]
    missed_at: Mapped[datetime | None] = mapped_column(doc="when the open miss was raised; NULL: not missed")
    created_at: Mapped[datetime]
