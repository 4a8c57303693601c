"""The live incident document (guide §1-2): an append-only timeline, the one place entries are written.

Every writer goes through :func:`append` while holding the incident's row lock
(:func:`incident` with ``for_update``, or :func:`lock`), which gives three guarantees on both databases:
- entries of one incident get increasing ids in commit order, so a follower reading
  ``after=<last id>`` never misses one committed late;
- ``at`` never decreases (``max(now, incident.updated_at)``: a replica whose clock lags
  cannot write into the past);
- every free-text field is redacted before it is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, NotFound, ValidationFailed
from commandpost.incidents import rules
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.security.redact import redact_data, redact_text

MAX_PAGE = 500


def incident(session: Session, *, number: str | int, for_update: bool = False) -> Incident:
    """The incident ``INC-n`` (or ``n``); with ``for_update`` its row is locked until the transaction ends."""
    value = rules.parse_number(number)
    query = select(Incident).where(Incident.number == value)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    incident = session.scalars(query).first()
    if incident is None:
        raise NotFound(f"no incident {rules.format_number(value)}", details={"number": value})
    return incident


def lock(session: Session, *, incident: Incident) -> Incident:
    """Re-read ``incident`` under its row lock (engine processors and hooks that hold an object)."""
    query = (
        select(Incident)
        .where(Incident.id == incident.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


def try_lock(session: Session, *, incident_id: int) -> Incident | None:
    """For engine processors: the incident under its row lock, or None if another transaction holds it
    (PostgreSQL ``SKIP LOCKED``: replicas share the work and a busy incident is retried next pass)."""
    query = (
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def ensure_writable(incident: Incident) -> None:
    """Closed incidents are read-only: 409, nothing stored."""
    if incident.status == "closed":
        raise Conflict(
            f"{rules.format_number(incident.number)} is closed; a closed incident is read-only",
            details={"number": rules.format_number(incident.number), "status": "closed"},
        )


def effective_now(incident: Incident, now: datetime) -> datetime:
    """The instant a change to ``incident`` is recorded at: never before its latest entry."""
    return max(now, incident.updated_at)


def append(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    text: str,
    author: str,
    now: datetime,
    data: dict[str, Any] | None = None,
    corrects_id: int | None = None,
) -> TimelineEntry:
    """Append one entry. The caller holds the incident lock and has checked the incident is writable."""
    rules.choose(kind, rules.TIMELINE_KINDS, "timeline kind")
    at = effective_now(incident, now)
    if corrects_id is not None:
        corrected = session.get(TimelineEntry, corrects_id)
        if corrected is None or corrected.incident_id != incident.id:
            raise ValidationFailed(
                f"corrects: entry {corrects_id} is not on {rules.format_number(incident.number)}'s timeline",
                details={"field": "corrects", "value": corrects_id},
            )
    entry = TimelineEntry(
        incident_id=incident.id,
        at=at,
        author=author,
        kind=kind,
        text=redact_text(text),
        data=redact_data(data or {}),
        corrects_id=corrects_id,
    )
    session.add(entry)
    incident.updated_at = at
    session.flush()
    return entry


def entries(
    session: Session, *, incident: Incident, after: int | None = None, limit: int = 100
) -> list[TimelineEntry]:
    """Entries after the cursor (an entry id), oldest first."""
    if limit < 1 or limit > MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if after is not None and after < 0:
        raise ValidationFailed(f"after must be an entry id (≥ 0), not {after}")
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident.id)
    if after:
        query = query.where(TimelineEntry.id > after)
    return list(session.scalars(query.order_by(TimelineEntry.id).limit(limit)))


SHOWN = (
    TimelineEntry.id,
    TimelineEntry.at,
    TimelineEntry.author,
    TimelineEntry.kind,
    TimelineEntry.text,
    TimelineEntry.corrects_id,
)


def newest_entries(
    session: Session, *, incident: Incident, before: int | None = None, limit: int
) -> list[Any]:
    """The newest ``limit`` entries (before an entry id), newest first: one index range scan, and only
    the columns the command post shows (rows, not ORM objects — its render budget is 150 ms at 5,000
    entries)."""
    query = select(*SHOWN).where(TimelineEntry.incident_id == incident.id)
    if before:
        query = query.where(TimelineEntry.id < before)
    return list(session.execute(query.order_by(TimelineEntry.id.desc()).limit(limit)))


def newest_id(session: Session, *, incident: Incident) -> int:
    """The id of the incident's newest entry (0 while it has none): a follower's starting cursor."""
    newest = newest_entries(session, incident=incident, limit=1)
    return newest[0].id if newest else 0


def all_entries(session: Session, *, incident: Incident) -> list[TimelineEntry]:
    """The whole timeline, oldest first (exports)."""
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident.id).order_by(TimelineEntry.id)
    return list(session.scalars(query))


def count(session: Session, *, incident: Incident) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.incident_id == incident.id)
        )
        or 0
    )


def local(at: datetime | None, timezone: str, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime(fmt) if at else "—"


def local_for(at: datetime, timezone: str, incident_zone: str, fmt: str = "%H:%M %Z") -> str:
    """A time as its recipient reads it: in their own zone, the incident's (the org's) in brackets where
    it differs — "03:12 CET [11:12 JST]"."""
    own = local(at, timezone, fmt)
    theirs = local(at, incident_zone, fmt)
    return own if theirs == own else f"{own} [{theirs}]"


def to_markdown(
    incident: Incident, items: list[TimelineEntry], *, timezone: str, roles: list[tuple[str, str | None]]
) -> str:
    """The live document as Markdown, times in the org timezone: the raw material of the postmortem."""
    number = rules.format_number(incident.number)
    lines = [
        f"# {number}: {incident.title}",
        "",
        f"- **Severity:** {incident.severity}",
        f"- **Status:** {incident.status}",
        f"- **Service:** {incident.service or '—'}",
        f"- **Detection:** {incident.detection}",
        f"- **Command post:** #{incident.channel}",
        "- **Roles:** "
        + ", ".join(f"{label} @{holder}" if holder else f"{label} —" for label, holder in roles),
    ]
    if incident.summary:
        lines.append(f"- **Summary:** {incident.summary}")
    if incident.impact:
        lines.append(f"- **Impact:** {incident.impact}")
    lines += ["", "| milestone | time |", "| --- | --- |"]
    for label, value in (
        ("impact started", incident.impact_started_at),
        ("detected", incident.detected_at),
        ("declared", incident.declared_at),
        ("acknowledged", incident.acknowledged_at),
        ("identified", incident.identified_at),
        ("mitigated", incident.mitigated_at),
        ("resolved", incident.resolved_at),
        ("closed", incident.closed_at),
    ):
        lines.append(f"| {label} | {local(value, timezone)} |")
    lines += ["", f"## Timeline ({timezone})", ""]
    day = ""
    for entry in items:
        entry_day = local(entry.at, timezone, "%Y-%m-%d")
        if entry_day != day:
            day = entry_day
            lines += [f"### {day}", ""]
        author = entry.author if entry.author == rules.SYSTEM_AUTHOR else f"@{entry.author}"
        correction = f" (corrects #{entry.corrects_id})" if entry.corrects_id else ""
        text = entry.text.replace("\n", " ")
        clock = local(entry.at, timezone, "%H:%M:%S")
        lines.append(f"- `{clock}` #{entry.id} **{entry.kind}** {author}{correction}: {text}")
    return "\n".join(lines) + "\n"
