"""Request and response bodies of the incidents API.

Names (severity, status, role, kind, audience) are plain strings here and validated by the
services, so every unknown value gets the same 422 naming the valid ones, from API and CLI alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commandpost.clock import Instant
from commandpost.incidents import rules
from commandpost.incidents.models import Incident, PublicUpdate, RoleOffer
from commandpost.incidents.roles import RoleView
from commandpost.responses import Out, computed


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIn(_In):
    title: str = Field(min_length=1, max_length=300)
    severity: str | int = Field(description="SEV1–SEV4 (or 1–4)")
    service: str | None = Field(default=None, max_length=100)
    summary: str | None = Field(default=None, max_length=20_000)
    impact: str | None = Field(default=None, max_length=20_000, description="customer / business impact")
    impact_started_at: Instant | None = None
    detected_at: Instant | None = Field(default=None, description="default: now")
    ic: str | None = Field(default=None, max_length=100, description="default: the declarer")
    labels: dict[str, str] = Field(default_factory=dict)
    page: bool = Field(
        default=True,
        description="page the service's on-call when the severity pages "
        "(false: nobody is paged, and the timeline says so)",
    )


class UpdateIn(_In):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    summary: str | None = Field(default=None, max_length=20_000)
    impact: str | None = Field(default=None, max_length=20_000)
    impact_started_at: Instant | None = None
    service: str | None = Field(default=None, max_length=100)
    labels: dict[str, str] | None = None
    data_loss: bool | None = None
    manual_intervention: bool | None = None
    runbook: str | None = Field(default=None, max_length=100)


class StatusIn(_In):
    status: str = Field(description="investigating | identified | mitigated | resolved | closed | reopen")
    note: str | None = Field(default=None, max_length=20_000)


class SeverityIn(_In):
    severity: str | int
    reason: str = Field(max_length=2000)


class PersonIn(_In):
    person: str = Field(min_length=1, max_length=100)


class EntryIn(_In):
    kind: str = Field(description="note | action | decision")
    text: str = Field(max_length=20_000)
    corrects: int | None = Field(default=None, description="id of the entry this one corrects")


class CommsIn(_In):
    kind: str = Field(description="initial | update | resolved")
    audience: str = Field(default="internal", description="internal | external")
    body: str | None = Field(default=None, max_length=20_000, description="default: the kind's template")


class PublishIn(_In):
    title: str | None = Field(
        default=None,
        max_length=300,
        description="the public title (default: as last published); never the internal one",
    )
    message: str = Field(max_length=5000, description="what the public reads")
    state: str | None = Field(
        default=None,
        description="investigating | identified | monitoring | resolved "
        "(default: as last published, else investigating)",
    )
    services: dict[str, str] = Field(
        default_factory=dict,
        description="service → operational | degraded | partial_outage | major_outage | maintenance "
        "(default: as last published)",
    )


class MaintenanceIn(_In):
    title: str = Field(max_length=300, description="what the public reads as the window's title")
    message: str = Field(max_length=5000, description="what the public reads: the work and its effect")
    services: list[str] = Field(max_length=50, description="the services it covers (names of the ops folder)")
    starts_at: Instant
    ends_at: Instant = Field(description="after starts_at; at most 14 days later")


class IncidentOut(Out):
    number: str = Field(description="INC-n")
    title: str
    summary: str
    impact: str
    service: str | None
    severity: str
    status: str
    allowed_next: list[str]
    ic: str | None = Field(description="the IC; null for an alert-opened incident nobody acked yet")
    labels: dict[str, Any]
    data_loss: bool
    manual_intervention: bool
    detection: str
    channel: str
    group_key: str | None
    runbook: str | None
    no_runbook: bool
    created_by: str
    impact_started_at: datetime | None
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    identified_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    last_comms_at: datetime | None
    comms_due_at: datetime | None
    comms_overdue: bool
    updated_at: datetime
    timezone: str = Field(description="the org timezone, for showing times")

    @classmethod
    def of(cls, incident: Incident, *, ic: str | None, now: datetime, timezone: str = "UTC") -> IncidentOut:
        """Computed: the INC-n label, the statuses allowed next, the IC (a role, not a column), whether
        comms are overdue at ``now``, and the org timezone."""
        due = incident.comms_due_at
        return cls.model_validate(
            computed(
                incident,
                number=rules.format_number(incident.number),
                allowed_next=list(rules.allowed_next(incident.status)),
                ic=ic,
                comms_overdue=due is not None and due <= now and rules.is_open(incident.status),
                timezone=timezone,
            )
        )


class DeclaredOut(IncidentOut):
    paging: str = Field(description="who declaring pages: the service's on-call, or why nobody")
    next_steps: list[str]


class StatusChangedOut(IncidentOut):
    status_page: str | None = Field(
        description="once resolved, while the status page still shows the incident unresolved: the "
        "resolved update to publish"
    )


class PublicUpdateOut(Out):
    id: int
    number: str
    at: datetime
    author: str
    title: str
    message: str
    state: str = Field(description="the public state it was published with")
    services: dict[str, str] = Field(description="each affected service's state when it was published")
    entry: int = Field(validation_alias="entry_id", description="the comms entry on the timeline")

    @classmethod
    def of(cls, update: PublicUpdate, *, number: int) -> PublicUpdateOut:
        """Computed: the INC-n label (the row keeps the incident's id)."""
        return cls.model_validate(computed(update, number=rules.format_number(number)))


class MaintenanceOut(Out):
    id: int
    title: str
    message: str
    services: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None


class OfferOut(Out):
    id: int
    role: str
    from_person: str | None
    to_person: str
    offered_by: str
    offered_at: datetime
    expires_at: datetime
    state: str = Field(description="pending | accepted | declined | expired | superseded")
    answered_at: datetime | None

    @classmethod
    def of(cls, offer: RoleOffer, *, now: datetime) -> OfferOut:
        """Computed: ``state`` reads ``expired`` for a pending offer past its expiry at ``now``, before
        the engine marks the row."""
        state = "expired" if offer.state == "pending" and offer.expires_at <= now else offer.state
        return cls.model_validate(computed(offer, state=state))


class RoleOut(Out):
    role: str
    label: str
    holder: str | None
    held_by_ic_by_default: bool
    assigned_at: datetime | None
    pending_offer: OfferOut | None

    @classmethod
    def of(cls, view: RoleView, *, now: datetime) -> RoleOut:
        """Computed: the pending offer, whose state depends on ``now``."""
        offer = OfferOut.of(view.pending_offer, now=now) if view.pending_offer else None
        return cls.model_validate(computed(view, pending_offer=offer))


class EntryOut(Out):
    id: int
    at: datetime
    author: str
    kind: str
    text: str
    data: dict[str, Any]
    corrects: int | None = Field(validation_alias="corrects_id")


class TimelineOut(BaseModel):
    number: str
    status: str
    timezone: str = Field(description="the org timezone, for showing times")
    entries: list[EntryOut]
    next_cursor: int = Field(description="pass as ?after= to get what comes next")


class CommsTemplateOut(BaseModel):
    kind: str
    body: str
