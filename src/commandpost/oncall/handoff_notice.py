"""The handoff notice (guide §6-2): what the outgoing and incoming person hand over at a handoff —
the unresolved incidents, action items due, and runbooks changed since the layer's last handoff.

"Relevant" services are those whose escalation policy pages this schedule; with none, every
service is. Runbook changes compare each runbook's content hash in the ops revision in effect
at the last handoff (or the first revision, if none was applied yet then) with the current one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.incidents.rules import format_number
from commandpost.oncall import service as oncall_service
from commandpost.oncall.rules import Handoff
from commandpost.policy.models import OpsRevision
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import actions


@dataclass(frozen=True)
class IncidentLine:
    number: str
    severity: str
    status: str
    service: str | None
    title: str


@dataclass(frozen=True)
class RunbookChange:
    slug: str
    change: str  # added | changed | removed
    title: str


@dataclass(frozen=True)
class HandoffNotice:
    handoff: Handoff
    timezone: str
    since: datetime
    incidents: list[IncidentLine] = field(default_factory=list)
    action_items: list[str] = field(default_factory=list)
    runbooks: list[RunbookChange] = field(default_factory=list)
    zones: dict[str, str] = field(default_factory=dict)
    """Each person's own timezone (people.yaml): they read times in it, the schedule's in brackets."""

    def _local(self, at: datetime, person: str) -> str:
        zone = self.zones.get(person, self.timezone)
        return timeline.local_for(at, zone, self.timezone, "%a %Y-%m-%d %H:%M %Z")

    def subject(self, person: str) -> str:
        h = self.handoff
        where = f"{h.schedule} {h.layer}"
        if person == h.incoming:
            return (
                f"[handoff] you are on call for {where} from {self._local(h.at, person)} (from @{h.outgoing})"
            )
        return f"[handoff] your {where} shift ends {self._local(h.at, person)}: hand over to @{h.incoming}"

    def body(self, person: str) -> str:
        h = self.handoff
        role = "You take over" if person == h.incoming else "You hand over"
        lines = [
            f"{h.schedule} / {h.layer} changes hands at {self._local(h.at, person)}: "
            f"@{h.outgoing} -> @{h.incoming}.",
            f"{role}; go through this together (guide §6-2).",
            "",
            f"Unresolved incidents ({len(self.incidents)}):",
        ]
        lines += [
            f"  {i.number}  {i.severity}  {i.status}  {i.service or '-'}  {i.title}" for i in self.incidents
        ] or ["  none"]
        lines += ["", f"Action items due ({len(self.action_items)}):"]
        lines += [f"  {item}" for item in self.action_items] or ["  none"]
        lines += ["", f"Runbooks changed since the last handoff ({self._local(self.since, person)}):"]
        lines += [f"  {r.change:8} {r.slug} - {r.title}" for r in self.runbooks] or ["  none"]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        h = self.handoff
        return {
            "kind": "handoff",
            "schedule": h.schedule,
            "layer": h.layer,
            "at": h.at.isoformat(),
            "outgoing": h.outgoing,
            "incoming": h.incoming,
            "incidents": [i.number for i in self.incidents],
            "runbooks_changed": [r.slug for r in self.runbooks],
        }


def action_items_due(session: Session, person: str, now: datetime) -> list[str]:
    """Postmortem action items of ``person`` due within a week or overdue (guide §6-2: hand them over)."""
    return actions.due_lines(session, person=person, now=now)


def relevant_services(config: OpsConfig, schedule: str) -> set[str]:
    """Services whose escalation policy targets ``schedule``."""
    out = set()
    for service in config.services:
        policy = config.policy(service.escalation_policy or "") if service.escalation_policy else None
        if policy and any(t.schedule == schedule for t in policy.targets.values()):
            out.add(service.name)
    return out


def _unresolved(session: Session, services: set[str]) -> list[IncidentLine]:
    rows = incidents_service.list_incidents(session, status="open", limit=500)
    return [
        IncidentLine(format_number(r.number), r.severity, r.status, r.service, r.title)
        for r in sorted(rows, key=lambda r: (r.severity, r.number))
        if not services or r.service in services
    ]


def _runbook_hashes(model: dict[str, Any]) -> dict[str, tuple[str, str]]:
    out = {}
    for runbook in model.get("runbooks", []):
        title = runbook.get("front_matter", {}).get("title") or runbook["slug"]
        out[runbook["slug"]] = (runbook["content_hash"], title)
    return out


def runbooks_changed(
    session: Session, config: OpsConfig, since: datetime, services: set[str]
) -> list[RunbookChange]:
    """Runbooks added, changed or removed between the revision in effect at ``since`` and ``config``."""
    base = (
        session.scalars(
            select(OpsRevision)
            .where(OpsRevision.applied_at <= since)
            .order_by(OpsRevision.seq.desc())
            .limit(1)
        ).first()
        or session.scalars(select(OpsRevision).order_by(OpsRevision.seq).limit(1)).first()
    )
    before = _runbook_hashes(base.model) if base else {}
    now = {r.slug: (r.content_hash, r.front_matter.title or r.slug) for r in config.runbooks}
    relevant = _relevant_runbooks(config, services)
    changes = []
    for slug in sorted(set(before) | set(now)):
        if relevant is not None and slug not in relevant and slug in now:
            continue
        if slug not in before:
            changes.append(RunbookChange(slug, "added", now[slug][1]))
        elif slug not in now:
            changes.append(RunbookChange(slug, "removed", before[slug][1]))
        elif before[slug][0] != now[slug][0]:
            changes.append(RunbookChange(slug, "changed", now[slug][1]))
    return changes


def _relevant_runbooks(config: OpsConfig, services: set[str]) -> set[str] | None:
    """Runbooks of the relevant services (by front matter or alert rules); None means all."""
    if not services:
        return None
    slugs = {r.slug for r in config.runbooks if r.front_matter.service in services}
    for service in config.services:
        if service.name in services:
            slugs.update(rule.runbook for rule in service.alert_rules if rule.runbook)
            if service.default_runbook:
                slugs.add(service.default_runbook)
    return slugs


def build(session: Session, config: OpsConfig, handoff: Handoff, *, now: datetime) -> HandoffNotice:
    """The notice for one handoff, as of ``now``."""
    schedule, layer = oncall_service.find_layer(config, handoff.schedule, handoff.layer)
    since = oncall_service.previous_handoff(
        session, config=config, handoff=handoff
    ) or handoff.at - schedule.turn(layer)
    services = relevant_services(config, handoff.schedule)
    items = [
        *action_items_due(session, handoff.outgoing, now),
        *action_items_due(session, handoff.incoming, now),
    ]
    return HandoffNotice(
        handoff=handoff,
        timezone=schedule.timezone,
        since=since,
        incidents=_unresolved(session, services),
        action_items=list(dict.fromkeys(items)),
        runbooks=runbooks_changed(session, config, since, services),
        zones={
            p.handle: p.timezone
            for handle in (handoff.incoming, handoff.outgoing)
            if (p := config.person(handle)) is not None
        },
    )
