"""The draft (guide §5-3) from the incident and its live document: measured facts, the transcribed
timeline, and the sections a machine can write (summary, user impact, timeline, detection).

:func:`gather` reads through the incidents domain's own functions; everything after it is pure,
so a scripted incident's draft is compared line by line with an expected file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from commandpost.incidents import roles, timeline
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import criteria

MITIGATE_SECTION = 3
MISSING_ALERT = "missing-alert"
MISSING_ALERT_DUE = timedelta(days=14)
_PREFIX = re.compile(r"^INC-\d+:?\s+")
_ALERT_OPENED = re.compile(r"^opened SEV\d on \S+ from an alert:\s*")
_STEP_ID = re.compile(r"\bstep (\d+\.\d+)-[0-9a-f]+\b")
_TRAILING_COMMAND = re.compile(r":\s*`[^`]*`(?=$| — )")
PEOPLES_KINDS = ("action", "decision", "note")


@dataclass(frozen=True)
class Row:
    """One line of the postmortem's timeline, transcribed from one live-document entry."""

    entry_id: int
    at: datetime
    kind: str
    author: str
    text: str

    def to_dict(self, timezone: str) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "at": self.at.isoformat(),
            "time": criteria.hhmm(self.at, timezone),
            "kind": self.kind,
            "author": self.author,
            "text": self.text,
        }


@dataclass(frozen=True)
class Facts:
    """What was measured: milestones, counts and the transcribed timeline."""

    number: str
    title: str
    severity: str
    service: str | None
    status: str
    detection: str
    timezone: str
    ic: str | None
    declared_by: str
    impact: str
    summary: str
    data_loss: bool
    runbook: str | None
    impact_started_at: datetime | None
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    alerts: int
    pages: int
    comms: int
    first_alert: str | None
    rows: tuple[Row, ...] = ()
    interventions: tuple[criteria.Intervention, ...] = field(default=(), repr=False)
    drill: str | None = None
    """``INC-n`` the incident replays when it is a drill (label ``drill=true``): the drill template."""

    def criteria_input(self, config: OpsConfig, manual_flag: bool) -> criteria.CriteriaInput:
        level = config.severities.get(self.severity)
        return criteria.CriteriaInput(
            severity=self.severity,
            data_loss=self.data_loss,
            manual_intervention_flag=manual_flag,
            detection=self.detection,
            detected_at=self.detected_at,
            resolved_at=self.resolved_at,
            interventions=self.interventions,
            severity_requires=bool(level and level.postmortem_required),
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        duration = self.resolved_at - self.detected_at if self.resolved_at else None
        return {
            "number": self.number,
            "title": self.title,
            "severity": self.severity,
            "service": self.service,
            "incident_status": self.status,
            "detection": self.detection,
            "timezone": self.timezone,
            "ic": self.ic,
            "declared_by": self.declared_by,
            "data_loss": self.data_loss,
            "runbook": self.runbook,
            "impact_started_at": iso(self.impact_started_at),
            "detected_at": iso(self.detected_at),
            "acknowledged_at": iso(self.acknowledged_at),
            "mitigated_at": iso(self.mitigated_at),
            "resolved_at": iso(self.resolved_at),
            "duration_seconds": int(duration.total_seconds()) if duration is not None else None,
            "duration": format_duration(duration) if duration is not None else None,
            "alerts": self.alerts,
            "pages": self.pages,
            "comms": self.comms,
            "first_alert": self.first_alert,
            "timeline": [row.to_dict(self.timezone) for row in self.rows],
        }


# ---------------------------------------------------------------- reading the live document


def gather(session: Session, incident: Incident, config: OpsConfig) -> Facts:
    """The facts of ``incident`` from its row, its roles and its whole timeline."""
    entries = timeline.all_entries(session, incident=incident)
    return facts_from(incident, entries, config=config, ic=roles.ic_holder(session, incident=incident))


def facts_from(
    incident: Incident, entries: list[TimelineEntry], *, config: OpsConfig, ic: str | None
) -> Facts:
    fired = [e for e in entries if e.kind == "alert" and "severity" in (e.data or {})]
    first_alert = _strip(fired[0].text) if fired else None
    if first_alert:
        first_alert = _ALERT_OPENED.sub("", first_alert)
    return Facts(
        number=incident_rules.format_number(incident.number),
        title=incident.title,
        severity=incident.severity,
        service=incident.service,
        status=incident.status,
        detection=incident.detection,
        timezone=config.settings.timezone,
        ic=ic,
        declared_by=incident.created_by,
        impact=incident.impact or "",
        summary=incident.summary or "",
        data_loss=incident.data_loss,
        runbook=incident.runbook,
        impact_started_at=incident.impact_started_at,
        detected_at=incident.detected_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        alerts=len(fired),
        pages=sum(1 for e in entries if _is_page(e)),
        comms=sum(1 for e in entries if e.kind == "comms"),
        first_alert=first_alert,
        rows=tuple(transcribe(entries, detection=incident.detection)),
        interventions=tuple(interventions(entries)),
        drill=str((incident.labels or {}).get("drill_of") or "a past incident")
        if incident_rules.is_drill(incident.labels)
        else None,
    )


def _is_page(entry: TimelineEntry) -> bool:
    """A ``page`` entry that paged someone (not an FYI, not "escalation stopped")."""
    data = entry.data or {}
    return entry.kind == "page" and data.get("kind", "page") == "page" and "escalation" not in data


def interventions(entries: list[TimelineEntry]) -> list[criteria.Intervention]:
    """Manual changes: every ``action`` entry, and every Mitigate runbook step a person marked done."""
    found = []
    for e in entries:
        data = e.data or {}
        if e.kind == "action":
            found.append(criteria.Intervention(at=e.at, author=e.author, what="action"))
        elif (
            e.kind == "runbook_step"
            and data.get("section") == MITIGATE_SECTION
            and data.get("state") == "done"
            and e.author != incident_rules.SYSTEM_AUTHOR
        ):
            found.append(
                criteria.Intervention(
                    at=e.at, author=e.author, what="mitigate_step", step=str(data.get("step"))
                )
            )
    return found


def _strip(text: str) -> str:
    return _PREFIX.sub("", text.strip())


def _keep(entry: TimelineEntry) -> bool:
    """Status, severity, decisions, actions, pages, acks, alerts, comms, runbook steps, roles, handovers."""
    data = entry.data or {}
    if entry.kind in ("status", "severity", "decision", "action", "page", "alert", "comms", "runbook_step"):
        return True
    if entry.kind == "role":
        return True
    if entry.kind == "handover":
        return data.get("state") == "accepted"
    if entry.kind == "system":
        return "detection" in data or bool(data.get("acknowledged"))
    return False


def transcribe(entries: list[TimelineEntry], *, detection: str) -> list[Row]:
    """The live document's entries the postmortem's timeline keeps, as they were written."""
    rows: list[Row] = []
    detected_marked = False
    for entry in entries:
        if not _keep(entry):
            continue
        text = _strip(entry.text)
        data = entry.data or {}
        if entry.kind == "comms":
            first_line = text.splitlines()[0] if text else ""
            more = " …" if len(text.splitlines()) > 1 else ""
            kind, audience = data.get("comms_kind", "update"), data.get("audience", "internal")
            text = f"{kind} ({audience}) by @{entry.author}: {first_line}{more}"
        else:
            text = " ".join(text.split())
        if entry.kind in PEOPLES_KINDS:
            text = f"@{entry.author}: {text}"
        elif entry.kind == "runbook_step":
            text = _TRAILING_COMMAND.sub("", _STEP_ID.sub(r"step \1", text))
        if entry.corrects_id:
            text += f" (corrects entry #{entry.corrects_id})"
        if not detected_marked and (
            (detection == "automatic" and entry.kind == "alert")
            or (detection == "manual" and entry.kind == "system" and "detection" in data)
        ):
            text += f" ({detection} detection)"
            detected_marked = True
        rows.append(Row(entry_id=entry.id, at=entry.at, kind=entry.kind, author=entry.author, text=text))
    return rows


# ---------------------------------------------------------------- the generated sections


def timeline_markdown(rows: tuple[Row, ...] | list[Row], timezone: str) -> str:
    """``- HH:MM **kind** text`` per row; a date line before each day when the timeline spans days."""
    zone = ZoneInfo(timezone)
    days = {row.at.astimezone(zone).date() for row in rows}
    lines: list[str] = []
    day: date | None = None
    for row in rows:
        local = row.at.astimezone(zone)
        if len(days) > 1 and local.date() != day:
            day = local.date()
            lines.append(f"**{day.isoformat()}**")
        lines.append(f"- {local:%H:%M} **{row.kind.replace('_', ' ')}** {row.text}")
    return "\n".join(lines)


def _span(facts: Facts) -> str:
    tz = facts.timezone
    start = criteria.hhmm(facts.detected_at, tz)
    if facts.resolved_at is None:
        return f"detected {start}, not resolved yet"
    took = format_duration(facts.resolved_at - facts.detected_at)
    return f"detected {start}, recovered {criteria.hhmm(facts.resolved_at, tz)} ({tz}) — {took}"


def summary(facts: Facts) -> str:
    """Three lines: what, for how long, who was impacted."""
    what = facts.summary or facts.title
    where = f" on {facts.service}" if facts.service else ""
    lines = [f"{what.rstrip('.')}.", f"{facts.severity}{where}: {_span(facts)}."]
    if facts.impact:
        lines.append(f"Impact: {facts.impact.rstrip('.')}.")
    return "\n".join(lines)


def detection(facts: Facts) -> str:
    tz = facts.timezone
    if facts.detection == "automatic":
        alert = f'the alert "{facts.first_alert}"' if facts.first_alert else "an alert"
        text = f"Automatic: monitoring detected it — {alert} fired at {criteria.hhmm(facts.detected_at, tz)}"
        text += f" and opened {facts.number}."
    else:
        text = (
            f"Manual: a human noticed, not monitoring — @{facts.declared_by} declared {facts.number} at "
            f"{criteria.hhmm(facts.detected_at, tz)} with no alert firing. This is a monitoring defect "
            "(guide §5-2, the most important class): the action item to add the missing alert is pre-filled."
        )
        if facts.alerts:
            text += f" Alerts attached later: {facts.alerts}."
    if facts.impact_started_at is not None:
        lag = format_duration(facts.detected_at - facts.impact_started_at)
        text += f" Impact started at {criteria.hhmm(facts.impact_started_at, tz)}, {lag} before detection."
    return text


def generated_sections(facts: Facts) -> dict[str, str]:
    """The sections the machine writes; the rest start empty (their hints say what belongs there)."""
    if facts.drill is not None:
        return drill_sections(facts, facts.drill)
    return {
        "summary": summary(facts),
        "user_impact": facts.impact,
        "timeline": timeline_markdown(facts.rows, facts.timezone),
        "detection": detection(facts),
    }


NOT_A_REAL_INCIDENT = "None: a drill (Wheel of Misfortune), no user or system was affected."


def drill_sections(facts: Facts, original: str) -> dict[str, str]:
    """The drill template: shorter and blameless. Impact, cause and luck are the original's (its own
    postmortem has them), so those sections are filled in; what is left to write is what the drill
    showed — went well, went poorly, and what to change in the runbook, paging or tooling."""
    return {
        "summary": (
            f"Drill of {original}: @{facts.ic or facts.declared_by} worked it, "
            f"@{facts.declared_by} was the game master; {_span(facts)}."
        ),
        "user_impact": NOT_A_REAL_INCIDENT,
        "business_impact": NOT_A_REAL_INCIDENT,
        "timeline": timeline_markdown(facts.rows, facts.timezone),
        "root_cause": f"See the postmortem of {original}: a drill rehearses the response, not the cause.",
        "technical_factor": f"See the postmortem of {original}.",
        "detection": f"The game master's prompts replayed {original}'s alerts at the drill's speed.",
        "got_lucky": "Not applicable to a drill.",
    }


@dataclass(frozen=True)
class ItemSpec:
    """A pre-filled action item (the monitoring defect of a manually detected incident)."""

    title: str
    type: str
    owner: str
    due: date
    verification: str
    runbook: str | None
    origin: str


def missing_alert_item(facts: Facts, *, owner: str, today: date, runbooks: set[str]) -> ItemSpec:
    where = f" on {facts.service}" if facts.service else ""
    return ItemSpec(
        title=f"Add the missing alert for '{facts.title}'{where} so monitoring detects it, not a person",
        type="prevent",
        owner=owner,
        due=today + MISSING_ALERT_DUE,
        verification=(
            "Reproduce the failure in a drill and confirm the new alert fires and pages, "
            "with a runbook link, before anyone notices by hand"
        ),
        runbook=facts.runbook if facts.runbook in runbooks else None,
        origin=MISSING_ALERT,
    )
