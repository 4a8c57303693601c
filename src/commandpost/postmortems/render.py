"""A postmortem as Markdown in the guide's §5-3 template: what ``postmortem show --format md`` prints,
what ``GET /api/v1/postmortems/{number}/markdown`` returns and what a team wiki stores. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from commandpost.policy.durations import format_duration
from commandpost.postmortems.sections import HINTS, SECTION_TITLES
from commandpost.postmortems.states import STATUS_LABELS


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    type: str
    owner: str
    due: str
    ticket: str | None
    status: str
    verification: str | None = None
    runbook: str | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Item:
        return cls(
            id=int(data["id"]),
            title=str(data["title"]),
            type=str(data["type"]),
            owner=str(data["owner"]),
            due=str(data["due"]),
            ticket=data.get("ticket"),
            status=str(data["status"]),
            verification=data.get("verification"),
            runbook=data.get("runbook"),
        )


@dataclass(frozen=True)
class Document:
    """Everything the Markdown shows, from a live postmortem or a stored revision."""

    title: str
    status: str
    author: str | None
    reviewer: str | None
    revision: int
    sections: Mapping[str, str]
    facts: Mapping[str, Any]
    criteria: Mapping[str, Any]
    items: Sequence[Item] = ()
    no_action_reason: str | None = None


def _person(handle: str | None) -> str:
    return f"@{handle}" if handle else "—"


def _local(value: str | None, timezone: str, fmt: str = "%H:%M") -> str | None:
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(ZoneInfo(timezone)).strftime(fmt)


def _body(doc: Document, name: str) -> str:
    text = (doc.sections.get(name) or "").strip()
    if text:
        return text
    hint = HINTS[name].splitlines()
    return "\n".join([f"> _To fill:_ {hint[0]}", *(f"> {line}" for line in hint[1:])])


def _bullet(label: str, text: str) -> str:
    """``- Label: text`` with continuation lines indented under the bullet."""
    lines = text.splitlines() or [""]
    return "\n".join([f"- {label}: {lines[0]}".rstrip(), *(f"  {line}" for line in lines[1:])])


def _between(facts: Mapping[str, Any], start: str, end: str) -> str:
    a, b = facts.get(start), facts.get(end)
    if not (a and b):
        return ""
    return format_duration(abs(datetime.fromisoformat(b) - datetime.fromisoformat(a)))


def impact(doc: Document) -> str:
    f, tz = doc.facts, doc.facts.get("timezone", "UTC")
    detected = _local(f.get("detected_at"), tz)
    recovered = _local(f.get("resolved_at"), tz)
    if recovered:
        lines = [f"- Duration: detected {detected} – recovered {recovered} ({f.get('duration')})"]
    else:
        lines = [f"- Duration: detected {detected}, not recovered yet"]
    if f.get("impact_started_at"):
        lag = _between(f, "impact_started_at", "detected_at")
        lines.append(f"- Impact started: {_local(f['impact_started_at'], tz)} ({lag} before detection)")
    for label, key in (("Acknowledged", "acknowledged_at"), ("Mitigated", "mitigated_at")):
        if f.get(key):
            lines.append(
                f"- {label}: {_local(f[key], tz)} ({_between(f, 'detected_at', key)} after detection)"
            )
    lines.append(
        f"- Alerts: {f.get('alerts', 0)} · Pages: {f.get('pages', 0)} · Comms updates: {f.get('comms', 0)}"
    )
    lines.append(f"- Data loss: {'yes' if f.get('data_loss') else 'none recorded'}")
    for name in ("user_impact", "business_impact"):
        text = (doc.sections.get(name) or "").strip() or f"_to fill: {HINTS[name]}_"
        lines.append(_bullet(SECTION_TITLES[name], text))
    return "\n".join(lines)


def _cell(value: str | None) -> str:
    return " ".join((value or "—").split()).replace("|", "\\|")


def action_items(doc: Document) -> str:
    if not doc.items:
        if doc.no_action_reason:
            return f"No action needed: {doc.no_action_reason}"
        return "> _To fill:_ at least one SMART action item, or an explicit 'no action needed' with a reason."
    lines = [
        "| # | Content | Type | Owner | Due | Ticket | Status |",
        "| - | ------- | ---- | ----- | --- | ------ | ------ |",
    ]
    for item in doc.items:
        lines.append(
            f"| {item.id} | {_cell(item.title)} | {item.type} | @{item.owner} | {item.due} | "
            f"{_cell(item.ticket)} | {item.status.replace('_', ' ')} |"
        )
    checks = [f"- #{i.id}: {' '.join(i.verification.split())}" for i in doc.items if i.verification]
    if checks:
        lines += ["", "Verification:", *checks]
    books = [f"- #{i.id}: update runbook `{i.runbook}`" for i in doc.items if i.runbook]
    if books:
        lines += ["", "Runbooks to update:", *books]
    return "\n".join(lines)


def markdown(doc: Document) -> str:
    f, tz = doc.facts, doc.facts.get("timezone", "UTC")
    date = _local(f.get("detected_at"), tz, "%Y-%m-%d") or "—"
    header = [
        f"# Postmortem: {doc.title} ({f.get('severity', '?')})",
        "",
        f"- **Status:** {STATUS_LABELS.get(doc.status, doc.status)} · **Author:** {_person(doc.author)}"
        f" · **Reviewer:** {_person(doc.reviewer)} · **Date:** {date}",
        f"- **Incident:** {f.get('number')} · service {f.get('service') or '—'}"
        + (f" · revision {doc.revision}" if doc.revision else ""),
        f"- **Criteria:** {doc.criteria.get('summary', 'not evaluated')}",
    ]
    parts = [
        "\n".join(header),
        f"## Summary\n\n{_body(doc, 'summary')}",
        f"## Impact\n\n{impact(doc)}",
        f"## Timeline (transcribed from the live document, {tz})\n\n{_body(doc, 'timeline')}",
        "## Root cause\n\n"
        f"### Five whys\n\n{_body(doc, 'root_cause')}\n\n"
        f"### Technical factor\n\n{_body(doc, 'technical_factor')}\n\n"
        f"### Process factor\n\n{_body(doc, 'process_factor')}",
        f"## Detection\n\n{_body(doc, 'detection')}",
        "## What went well / what went poorly in the response\n\n"
        f"### Went well\n\n{_body(doc, 'went_well')}\n\n"
        f"### Went poorly\n\n{_body(doc, 'went_poorly')}\n\n"
        f"### Where we got lucky\n\n{_body(doc, 'got_lucky')}",
        f"## Action items\n\n{action_items(doc)}",
    ]
    return "\n\n".join(parts) + "\n"
