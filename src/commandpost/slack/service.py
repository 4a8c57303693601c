"""What an operator asks of the command post's channels: which incident has which channel in what
state (a failed one says why), and trying a failed one again once the cause is fixed (a scope
added, the bot invited to the announcement channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, NotFound
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.slack import models as m
from commandpost.slack.models import SlackChannel


def list_channels(session: Session, *, failed: bool = False) -> list[dict[str, Any]]:
    """Every incident's channel row, newest incident first; ``failed``: only those Slack refused."""
    query = select(SlackChannel, Incident.number).join(Incident, Incident.id == SlackChannel.incident_id)
    if failed:
        query = query.where(SlackChannel.state == m.FAILED)
    rows = session.execute(query.order_by(Incident.number.desc())).all()
    return [
        {
            "incident": incident_rules.format_number(number),
            "name": row.name,
            "channel_id": row.channel_id,
            "state": row.state,
            "step": row.step,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at,
            "last_error": row.last_error,
            "updated_at": row.updated_at,
        }
        for row, number in rows
    ]


def retry_channel(session: Session, *, number: int, now: datetime) -> dict[str, Any]:
    """A failed channel is due again at once, from the step it failed at (nothing done is redone)."""
    label = incident_rules.format_number(number)
    row = session.scalars(
        select(SlackChannel)
        .join(Incident, Incident.id == SlackChannel.incident_id)
        .where(Incident.number == number)
    ).first()
    if row is None:
        raise NotFound(f"{label} has no Slack channel row (is Slack on? is the incident open?)")
    if row.state != m.FAILED:
        raise Conflict(f"{label}'s channel is {row.state}, not failed: nothing to try again")
    session.execute(
        update(SlackChannel)
        .where(SlackChannel.id == row.id, SlackChannel.state == m.FAILED)
        .values(
            state=m.PENDING if row.channel_id is None else m.CREATED,
            attempts=0,
            next_attempt_at=row.updated_at,  # due since it failed, so: at the next pass
            claimed_by=None,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return {"incident": label, "step": row.step}
