"""Helpers for the paging tests: ops variants, driving the escalation processor like the engine does
(jump to each due time, never sleep), and the outbox as comparable tuples."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.notify.models import OutgoingMessage
from commandpost.paging import service as paging_service
from commandpost.paging.processors import EscalationsDue
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.settings import Settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"
BASE_URL = "https://commandpost.example"

# Where people.yaml of examples/ops sends each person's pages (notify's order: slack, email, webhook,
# push, then the console); sato asks for email+slack at SEV1 and has no Slack.
CHANNELS = {
    "yuta": ("slack", "email", "push", "console"),
    "hana": ("slack", "email", "push", "console"),
    "ken": ("email", "webhook", "push", "console"),
    "mei": ("slack", "email", "push", "console"),
    "sato": ("email", "console"),
    "#payments": ("slack", "console"),
}

Row = tuple[datetime, str, str, int | None, str, str]
"""(due, incident, kind, level 1-based or None, to, channel)"""


def ops_variant(tmp: Path, edits: dict[str, Callable[[dict[str, Any]], None]]) -> Path:
    """A copy of examples/ops with each YAML file (relative path → edit function) changed."""
    folder = tmp / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    for relative, edit in edits.items():
        path = folder / relative
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return folder


def apply(sessions: sessionmaker[Session], clock: FrozenClock, folder: Path = EXAMPLE_OPS) -> OpsConfig:
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=folder, now=clock.now(), actor="test")
        return policy_service.current_config(s)


def processor() -> EscalationsDue:
    """A generous time budget: tests count what one pass decides, whatever the machine's speed."""
    return EscalationsDue(Settings(public_url=BASE_URL, engine_enabled=False), budget=5.0)


def run_until(
    sessions: sessionmaker[Session], clock: FrozenClock, until: datetime, esc: EscalationsDue
) -> int:
    """Run the processor at every due time up to ``until`` (inclusive), as the engine would; the clock
    ends at ``until``."""
    work = 0
    while True:
        with transaction(sessions) as s:
            work += esc.run(s, clock.now())
        with sessions() as s:
            due = esc.next_due(s, clock.now())
        if due is None or due > until:
            break
        clock.set(max(due, clock.now()))
    clock.set(until)
    with transaction(sessions) as s:
        work += esc.run(s, clock.now())
    return work


def open_alert(
    s: Session, *, severity: str, title: str, now: datetime, group: str, runbook: str | None = None
) -> Incident:
    incident, created = incidents_service.open_or_attach(
        s,
        service="payment-platform",
        severity=severity,
        title=title,
        group_key=group,
        impact_started_at=None,
        detected_at=None,
        runbook=runbook,
        no_runbook=runbook is None,
        source_summary=f"alertmanager: {title}",
        now=now,
    )
    assert created
    return incident


def act(sessions: sessionmaker[Session], fn: Callable[[Session], Any]) -> Any:
    with transaction(sessions) as s:
        return fn(s)


def ack(number: int, person: str, now: datetime) -> Callable[[Session], Any]:
    return lambda s: incidents_service.acknowledge(
        s, incident=timeline.incident(s, number=number, for_update=True), person=person, now=now
    )


def resolve(number: int, person: str, now: datetime) -> Callable[[Session], Any]:
    return lambda s: incidents_service.change_status(
        s,
        incident=timeline.incident(s, number=number, for_update=True),
        status="resolved",
        actor=person,
        now=now,
    )


def escalate(number: int, person: str, now: datetime) -> Callable[[Session], Any]:
    return lambda s: paging_service.escalate_now(
        s, incident=timeline.incident(s, number=number), actor=person, now=now, base_url=BASE_URL
    )


def outbox(session: Session) -> list[Row]:
    """Every queued message as (due, incident, kind, level, to, channel), in a stable order."""
    session.rollback()
    rows: list[Row] = []
    for m in session.scalars(select(OutgoingMessage)):
        parts = dict(p.split("=", 1) for p in m.key.split("/")[1:])
        level = int(parts["level"]) + 1 if "level" in parts else None
        rows.append((m.due_at, parts["incident"], m.key.split("/")[0], level, parts["to"], m.channel))
    return sorted(rows)


def expand(due: datetime, incident: str, kind: str, level: int | None, *people: str) -> list[Row]:
    return [(due, incident, kind, level, p, c) for p in people for c in CHANNELS[p]]


def page_entries(session: Session, number: int) -> list[str]:
    session.rollback()
    incident = timeline.incident(session, number=number)
    rows = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "page")
        .order_by(TimelineEntry.id)
    )
    return [r.text for r in rows]
