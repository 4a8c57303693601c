"""Plain factory functions for tests: build rows through the real services, override what matters.

Each takes a write session (the caller commits, or wraps it in ``transaction``) and returns the row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from commandpost.incidents import roles, service, timeline
from commandpost.incidents.models import Incident, RoleOffer, TimelineEntry
from commandpost.policy import service as policy_service

DEFAULT_NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


def make_incident(session: Session, **overrides: Any) -> Incident:
    """A declared incident: "Payment webhooks failing", SEV2 on payment-platform, IC @yuta."""
    values: dict[str, Any] = {
        "title": "Payment webhooks failing",
        "severity": "SEV2",
        "service": "payment-platform",
        "actor": "yuta",
        "now": DEFAULT_NOW,
    }
    values.update(overrides)
    return service.declare(session, **values)


def make_alert_incident(session: Session, **overrides: Any) -> Incident:
    """An incident opened from an alert (no IC until someone acks)."""
    values: dict[str, Any] = {
        "service": "payment-platform",
        "severity": "SEV2",
        "title": "WebhookBacklogHigh",
        "group_key": "alertname=WebhookBacklogHigh",
        "impact_started_at": None,
        "detected_at": None,
        "runbook": "payment-webhook-backlog",
        "no_runbook": False,
        "source_summary": "alertmanager: WebhookBacklogHigh firing",
        "now": DEFAULT_NOW,
    }
    values.update(overrides)
    incident, _created = service.open_or_attach(session, **values)
    return incident


def make_offer(session: Session, incident: Incident, **overrides: Any) -> RoleOffer:
    """The IC @yuta offers IC to @hana."""
    values: dict[str, Any] = {"role": "ic", "person": "hana", "actor": "yuta", "is_admin": False}
    values.update(overrides)
    values.setdefault("now", DEFAULT_NOW)
    values.setdefault("config", policy_service.current_config(session))
    return roles.offer(session, incident=timeline.lock(session, incident=incident), **values)


def make_note(session: Session, incident: Incident, **overrides: Any) -> TimelineEntry:
    values: dict[str, Any] = {"kind": "note", "text": "looking at the webhook queue", "actor": "yuta"}
    values.update(overrides)
    values.setdefault("now", DEFAULT_NOW)
    return service.add_entry(session, incident=incident, **values)
