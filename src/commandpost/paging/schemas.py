"""Escalation over the API: where an incident's chain stands, and every page with its delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from commandpost.incidents.models import Incident
from commandpost.notify.models import DELIVERED, OutgoingAttempt, OutgoingMessage
from commandpost.notify.rules import mask_destination
from commandpost.paging import rules
from commandpost.paging.models import Escalation
from commandpost.policy.opsfiles import OpsConfig
from commandpost.responses import Out, computed


class EscalationOut(Out):
    policy: str | None
    severity: str
    state: str = Field(description="active | acknowledged | resolved | stopped")
    chain: int = Field(description="restarts: a severity raised into a paging one starts a new chain")
    levels: int
    next_level: int | None = Field(description="1-based level that fires next, None when exhausted")
    next_targets: list[str]
    repeat: int
    repeat_limit: int
    next_escalation_at: datetime | None
    fired: int
    started_at: datetime
    last_fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    stop_reason: str | None

    @classmethod
    def of(cls, esc: Escalation, incident: Incident, config: OpsConfig) -> EscalationOut:
        """Computed: the state as the incident makes it (an acknowledged or resolved incident stops
        the chain), and from the policy's route for the incident's severity: the levels, the next one
        and its targets, the repeat limit."""
        policy = config.policy(esc.policy) if esc.policy else None
        route = rules.route_for(policy, incident.severity)
        levels = rules.levels_of(route) if route else ()
        acknowledged = incident.acknowledged_at is not None
        state = rules.effective_state(esc.state, incident_status=incident.status, acknowledged=acknowledged)
        pending = esc.level < len(levels)
        return cls.model_validate(
            computed(
                esc,
                state=state,
                levels=len(levels),
                next_level=esc.level + 1 if pending else None,
                next_targets=list(levels[esc.level].targets) if pending else [],
                repeat_limit=route.repeat if route else 0,
                next_escalation_at=esc.next_escalation_at if state == rules.ACTIVE else None,
                acknowledged_at=esc.acknowledged_at
                or (incident.acknowledged_at if state == rules.ACKNOWLEDGED else None),
            )
        )


class PageOut(Out):
    """One message about the incident: a page (level), an FYI, or another notification."""

    id: int
    kind: str = Field(description="page | fyi | notification")
    level: int | None = Field(description="1-based level of a page")
    repeat: int | None
    target: str | None = Field(description="the policy name that reached this person or channel")
    person: str | None
    channel: str
    destination: str = Field(description="webhook URLs masked to scheme and host")
    subject: str
    created_at: datetime
    due_at: datetime
    status: str
    delivered: bool
    sent_at: datetime | None
    late: bool
    attempts: int
    last_error: str | None
    escalated_by: str | None
    receipt: str | None = Field(description="the provider's last delivery report (SMS, voice)")
    acted: str | None = Field(description="ack | escalate: the recipient acted through this message")
    acted_at: datetime | None

    @classmethod
    def of(cls, message: OutgoingMessage, attempts: list[OutgoingAttempt]) -> PageOut:
        """Computed: what the message's payload says (kind, 1-based level, repeat, target, who
        escalated), the destination masked, whether it was delivered, and the attempts counted."""
        payload: dict[str, Any] = message.payload or {}
        kind = payload.get("kind") if payload.get("kind") in ("page", "fyi") else "notification"
        level = payload.get("level")
        return cls.model_validate(
            computed(
                message,
                kind=kind,
                level=level + 1 if isinstance(level, int) else None,
                repeat=payload.get("repeat") if isinstance(payload.get("repeat"), int) else None,
                target=payload.get("target"),
                destination=mask_destination(message.channel, message.destination),
                delivered=message.status == DELIVERED,
                attempts=len(attempts) or message.attempts,
                escalated_by=payload.get("escalated_by"),
            )
        )


class PagesOut(BaseModel):
    number: str
    severity: str
    escalation: EscalationOut | None
    pages: list[PageOut]


class EscalatedOut(BaseModel):
    number: str
    queued: int = Field(description="messages queued by this escalation")
    escalation: EscalationOut


class PageTestMethodOut(BaseModel):
    channel: str
    destination: str = Field(description="masked: a topic's first characters, a number's last four digits")
    status: str = Field(description="pending | sending | delivered | dead")
    receipt: str | None = Field(description="the provider's delivery report, when it sends one")
    acknowledged_at: datetime | None
    error: str | None


class PageTestOut(BaseModel):
    """The newest test page of a person: each method, delivered or not, acknowledged or not."""

    person: str
    test_id: str | None
    methods: list[PageTestMethodOut]
