"""Editing an incident's descriptive fields (title, summary, impact, flags…), one timeline entry per edit.

Status, severity and roles have their own use cases and entries; this is everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from commandpost.errors import ValidationFailed
from commandpost.incidents import inputs, rules, timeline
from commandpost.incidents.models import Incident
from commandpost.incidents.service import config_of

EDITABLE = (
    "title",
    "summary",
    "impact",
    "impact_started_at",
    "service",
    "labels",
    "data_loss",
    "manual_intervention",
    "runbook",
)


def update_details(
    session: Session, *, incident: Incident, actor: str, now: datetime, changes: Mapping[str, Any]
) -> Incident:
    """Edit descriptive fields (not status, severity or roles); one ``system`` entry lists what changed."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    config = config_of(session)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE)}",
            details={"valid": list(EDITABLE)},
        )
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ("title",):
            clean[field] = inputs.text(value, field, required=True, limit=inputs.MAX_TITLE)
        elif field in ("summary", "impact"):
            clean[field] = inputs.text(value, field)
        elif field == "service":
            clean[field] = inputs.service_name(config, value)
        elif field == "labels":
            clean[field] = inputs.labels(value)
        elif field == "impact_started_at":
            inputs.check_times(value, incident.detected_at, now)
            clean[field] = value
        elif field == "runbook":
            clean[field] = inputs.text(value, field, limit=100) or None
        else:
            clean[field] = bool(value)
    changed = {k: v for k, v in clean.items() if getattr(incident, k) != v}
    if not changed:
        return incident
    for field, value in changed.items():
        setattr(incident, field, value)
    shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changed.items()}
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{rules.format_number(incident.number)} updated by @{actor}: {', '.join(sorted(changed))}",
        author=actor,
        now=now,
        data={"changed": shown},
    )
    return incident
