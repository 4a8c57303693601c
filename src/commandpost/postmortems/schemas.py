"""Request and response bodies of the postmortems API.

Action-item fields are optional in the request shape on purpose: a missing owner or due day is a
SMART rule broken, and the service's 422 names the rule ("Assigned (owner): an owner is required …")
rather than a bare "field required".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commandpost.incidents import rules as incident_rules
from commandpost.postmortems import reminders, states
from commandpost.postmortems.blameless import BlameFlag
from commandpost.postmortems.models import ActionItem, ActionTicket, Postmortem
from commandpost.postmortems.sections import HINTS, SECTION_NAMES, SECTION_TITLES, empty_sections
from commandpost.responses import Out, computed


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostmortemPatchIn(_In):
    sections: dict[str, str] | None = Field(
        default=None, description=f"section name → Markdown; sections: {', '.join(SECTION_NAMES)}"
    )
    title: str | None = Field(default=None, max_length=300)
    author: str | None = Field(default=None, max_length=100)
    no_action_reason: str | None = Field(
        default=None, max_length=2000, description="an explicit 'no action needed' and why ('' clears it)"
    )


class SubmitIn(_In):
    reviewer: str = Field(min_length=1, max_length=100, description="a handle from people.yaml")


class ReopenIn(_In):
    to: str = Field(default="draft", description="draft | in_review")


class ActionItemIn(_In):
    title: str | None = Field(default=None, max_length=2000)
    type: str | None = Field(default=None, description="prevent | mitigate | process")
    owner: str | None = Field(default=None, max_length=100)
    due: date | None = Field(default=None, description="YYYY-MM-DD, a day in the org's timezone")
    ticket: str | None = Field(default=None, max_length=500, description="a key like OPS-123 or a URL")
    verification: str | None = Field(default=None, max_length=2000, description="required for prevent")
    runbook: str | None = Field(default=None, max_length=100, description="a runbook to update when Final")


class ActionItemAddIn(ActionItemIn):
    create_ticket: bool = Field(
        default=False, description="create its ticket in the org's tracker too (then no ticket is needed)"
    )
    tracker: str | None = Field(
        default=None, max_length=20, description="github | gitlab | jira | linear (implies create_ticket)"
    )


class ActionItemPatchIn(ActionItemIn):
    status: str | None = Field(default=None, description="open | in_progress | done | wontfix")
    note: str | None = Field(default=None, max_length=2000, description="why (required for wontfix)")


class TicketIn(_In):
    tracker: str | None = Field(
        default=None, max_length=20, description="github | gitlab | jira | linear; default: trackers.default"
    )


class TicketLinkOut(Out):
    tracker: str = Field(description="github | gitlab | jira | linear")
    key: str = Field(description="what people read: acme/payments#12, OPS-24, ENG-123")
    url: str
    state: str = Field(description="the tracker's own word for its state, as last read")
    status: str = Field(description="open | done | dropped (closed as not planned, canceled)")
    synced_at: datetime | None = Field(description="when the state was last read or pushed by webhook")
    last_error: str | None = Field(description="why the last read failed")


class ActionItemOut(Out):
    id: int
    incident: str = Field(description="INC-n")
    title: str
    type: str
    owner: str
    due: date
    ticket: str | None
    status: str
    verification: str | None
    runbook: str | None
    note: str
    origin: str | None = Field(description="'missing-alert' for the item the draft pre-filled")
    overdue: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    done_at: datetime | None
    ticket_link: TicketLinkOut | None = Field(
        default=None, description="the ticket commandpost created in the team's tracker, and its state"
    )

    @classmethod
    def of(
        cls, item: ActionItem, *, number: int, timezone: str, now: datetime, link: ActionTicket | None = None
    ) -> ActionItemOut:
        """Computed: the incident's INC-n label, whether the item is overdue at ``now`` in the org's
        ``timezone``, and its tracker ticket (another row)."""
        label = incident_rules.format_number(number)
        overdue = item.status in states.OPEN_ACTION_STATUSES and reminders.is_overdue(item.due, now, timezone)
        ticket_link = TicketLinkOut.model_validate(link) if link is not None else None
        return cls.model_validate(computed(item, incident=label, overdue=overdue, ticket_link=ticket_link))


class CriteriaOut(BaseModel):
    required: bool
    summary: str
    reasons: list[dict[str, Any]]
    manual_detection: bool = False
    evaluated_at: datetime


class BlameOut(Out):
    section: str
    sentence: str
    actor: str
    phrase: str
    rule: str
    suggestion: str


class PostmortemOut(Out):
    number: str = Field(description="the incident's number, INC-n")
    title: str
    severity: str
    service: str | None
    status: str = Field(description="not_required | draft | in_review | final")
    status_label: str
    author: str | None
    reviewer: str | None
    revision: int = Field(description="the latest Final revision (0 before the first Final)")
    criteria: CriteriaOut
    sections: dict[str, str]
    section_titles: dict[str, str]
    hints: dict[str, str] = Field(description="what belongs in each section")
    empty_sections: list[str]
    facts: dict[str, Any] = Field(description="measured numbers; facts.timeline is the transcribed timeline")
    action_items: list[ActionItemOut]
    no_action_reason: str | None
    blameless: list[BlameOut] = Field(description="warnings; blocking only with blameless: strict")
    blameless_mode: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finalized_at: datetime | None
    approved_by: str | None

    @classmethod
    def of(
        cls,
        pm: Postmortem,
        *,
        number: int,
        items: list[ActionItem],
        flags: list[BlameFlag],
        blameless_mode: str,
        timezone: str,
        now: datetime,
        links: dict[int, ActionTicket] | None = None,
    ) -> PostmortemOut:
        """Computed: the incident's INC-n label, what ``facts`` measured (severity, service), the status
        label, the criteria, every section (empty ones included) with titles and hints, the action items
        and blameless warnings (other rows), and the org's blameless mode."""
        facts = dict(pm.facts or {})
        sections = {name: (pm.sections or {}).get(name, "") for name in SECTION_NAMES}
        return cls.model_validate(
            computed(
                pm,
                number=incident_rules.format_number(number),
                severity=str(facts.get("severity", "")),
                service=facts.get("service"),
                status_label=states.STATUS_LABELS[pm.status],
                criteria=CriteriaOut(**(pm.criteria or {}), evaluated_at=pm.evaluated_at),
                sections=sections,
                section_titles=dict(SECTION_TITLES),
                hints=dict(HINTS),
                empty_sections=empty_sections(sections) if pm.status != "not_required" else [],
                facts=facts,
                action_items=[
                    ActionItemOut.of(
                        i, number=number, timezone=timezone, now=now, link=(links or {}).get(i.id)
                    )
                    for i in items
                ],
                blameless=[BlameOut.model_validate(f) for f in flags],
                blameless_mode=blameless_mode,
            )
        )


class PostmortemSummaryOut(Out):
    number: str
    title: str
    severity: str
    service: str | None
    status: str
    author: str | None
    reviewer: str | None
    required: bool
    criteria: str
    revision: int
    created_at: datetime
    finalized_at: datetime | None

    @classmethod
    def of(cls, pm: Postmortem, number: int) -> PostmortemSummaryOut:
        """Computed: the incident's INC-n label, what ``facts`` measured (severity, service), and the
        criteria's one-line summary."""
        facts = pm.facts or {}
        return cls.model_validate(
            computed(
                pm,
                number=incident_rules.format_number(number),
                severity=str(facts.get("severity", "")),
                service=facts.get("service"),
                criteria=str((pm.criteria or {}).get("summary", "")),
            )
        )


class RevisionOut(Out):
    revision: int
    reason: str = Field(description="approved | edited")
    title: str
    author: str | None
    reviewer: str | None
    created_at: datetime
    created_by: str
    sections: dict[str, str]
    action_items: list[dict[str, Any]]
    no_action_reason: str | None
    markdown: str


class ActionCountsOut(BaseModel):
    open: int
    in_progress: int
    done: int
    wontfix: int
    overdue: int = Field(description="open or in progress, past the due day (org timezone)")
