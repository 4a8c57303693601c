"""What one channel row's work needs, read in a read-only session before any Slack call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.incidents import roles, timeline
from commandpost.incidents.models import Incident, PublicUpdate, TimelineEntry
from commandpost.paging import page as paging_page
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems.models import Postmortem
from commandpost.slack import blocks
from commandpost.slack.models import SlackChannel

ENTRIES = 200
"""Timeline entries read per pass; the rest follow in the next pass."""
ARCHIVABLE = ("final", "not_required")
"""Postmortem states that let a closed incident's channel be archived."""


@dataclass
class ChannelJob:
    """Everything one row's work needs, read before any Slack call."""

    row_id: int
    state: str
    step: str
    name: str
    channel_id: str | None
    cursor: int
    topic: str | None
    invited: set[str]
    attempts: int
    number: str
    status: str
    closed: bool
    page: paging_page.PageText
    ic: str | None
    paged: list[str]
    people: list[str]
    new_topic: str
    newest: int
    entries: list[tuple[int, str, dict[str, Any], str]]
    postmortem: str | None
    postmortem_url: str
    duration: str
    config: OpsConfig
    notes: list[str] = field(default_factory=list)


def read_job(session: Session, row_id: int, now: datetime, *, owner: str, base_url: str) -> ChannelJob | None:
    """The row's job, while ``owner`` holds its claim (None: the claim is gone or the row too)."""
    row = session.get(SlackChannel, row_id)
    if row is None or row.claimed_by != owner:
        return None
    incident = session.get_one(Incident, row.incident_id)
    config = policy_service.current_config(session)
    base = base_url
    page = paging_page.build(config, incident, base_url=base)
    views = roles.view(session, incident=incident, now=now)
    ic = next((v.holder for v in views if v.role == "ic"), None)
    pages = session.scalars(
        select(TimelineEntry.data).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "page"
        )
    ).all()
    paged = list(
        dict.fromkeys(
            str(to)
            for data in pages
            if (data or {}).get("kind", "page") == "page"
            for to in (data or {}).get("to") or []
        )
    )
    people = [v.holder for v in views if v.holder]
    people += [label[1:] for label in paged if label.startswith("@")]
    for name in config.settings.slack.invite.get(incident.severity, []):  # type: ignore[call-overload]
        team = config.team(name)
        people += team.members if team else [name]
    entries = timeline.entries(session, incident=incident, after=row.cursor or None, limit=ENTRIES)
    pm = session.scalar(select(Postmortem.status).where(Postmortem.incident_id == incident.id))
    end = incident.resolved_at or incident.closed_at or now
    return ChannelJob(
        row_id=row.id,
        state=row.state,
        step=row.step,
        name=row.name,
        channel_id=row.channel_id,
        cursor=row.cursor,
        topic=row.topic,
        invited={u for u in row.invited.split(",") if u},
        attempts=row.attempts,
        number=page.number,
        status=incident.status,
        closed=incident.status == "closed",
        page=page,
        ic=ic,
        paged=paged,
        people=list(dict.fromkeys(p.lstrip("@") for p in people)),
        new_topic=blocks.topic(
            severity=incident.severity,
            status=incident.status,
            ic=ic,
            status_page=_status_page(session, config, incident),
        ),
        newest=timeline.newest_id(session, incident=incident),
        entries=[(e.id, e.kind, dict(e.data or {}), e.text) for e in entries],
        postmortem=pm,
        postmortem_url=f"{base}/postmortems/{page.number}",
        duration=format_duration(max(timedelta(0), end - incident.declared_at)),
        config=config,
    )


def _status_page(session: Session, config: OpsConfig, incident: Incident) -> str:
    """What the public status page says of the incident: only what Comms or the IC published there."""
    shown = session.scalars(
        select(PublicUpdate)
        .where(PublicUpdate.incident_id == incident.id)
        .order_by(PublicUpdate.id.desc())
        .limit(1)
    ).first()
    if shown is None:
        return "not published"
    return f"{shown.state}, updated {timeline.local(shown.at, config.settings.timezone, '%H:%M %Z')}"
