"""Response bodies of the alerts API (the intake endpoints answer in their sources' own shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from commandpost.alerts.models import Alert, SnsSubscription
from commandpost.alerts.subscriptions import expires_at
from commandpost.incidents.rules import format_number
from commandpost.responses import Out, computed


def incident_ref(number: int | None) -> str | None:
    return format_number(number) if number is not None else None


def rule_number(index: int | None) -> int | None:
    """The stored index of the matched alert rule as people count it: the service's first rule is 1."""
    return index + 1 if index is not None else None


def _alert(alert: Alert) -> object:
    """An alert as its response models read it. Computed: the incident's INC-n label and the rule
    number as people count it."""
    return computed(alert, incident=incident_ref(alert.incident_number), rule=rule_number(alert.rule))


class AlertOut(Out):
    id: int
    integration: str
    service: str
    source: str
    dedup_key: str
    status: str = Field(description="triggered | acknowledged | resolved")
    severity: str
    paging: bool
    outcome: str = Field(
        description="what its first trigger did: incident_opened, attached, recorded, suppressed"
    )
    rule: int | None = Field(
        description="number of the matched alert rule of the service, 1 for its first; null: the default"
    )
    source_severity: str
    alertname: str
    summary: str
    origin: str
    group_key: str
    runbook: str | None
    no_runbook: bool
    count: int = Field(description="triggers received while open (1 + repeats)")
    incident: str | None = Field(description="INC-n")
    starts_at: datetime | None
    ends_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    notify_after: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls.model_validate(_alert(alert))


class AlertDetailOut(AlertOut):
    labels: dict[str, Any]
    annotations: dict[str, Any]
    details: dict[str, Any]
    links: list[Any]
    raw: dict[str, Any] = Field(description="the body it came from, redacted and size-capped")

    @classmethod
    def of(cls, alert: Alert) -> AlertDetailOut:
        return cls.model_validate(_alert(alert))


class ChangeOut(Out):
    id: int
    service: str
    summary: str
    origin: str
    occurred_at: datetime
    received_at: datetime
    details: dict[str, Any]
    links: list[Any]


class IncidentChangesOut(BaseModel):
    incident: str
    service: str | None
    since: datetime | None = Field(description="24 h before the incident was detected")
    changes: list[ChangeOut] = Field(description="newest first")


class SubscriptionOut(Out):
    """An SNS subscription confirmation (admins only: ``subscribe_url`` carries the token)."""

    id: int
    integration: str
    service: str
    topic_arn: str
    message_id: str
    state: str = Field(description="pending | confirmed | unsubscribed | superseded")
    subscribe_url: str | None = Field(
        description="the SubscribeURL with its Token, while confirming is still to be done; "
        "null once confirmed or superseded"
    )
    subscription_arn: str | None
    received_at: datetime
    expires_at: datetime = Field(description="AWS accepts the token for 3 days after sending it")
    confirmed_at: datetime | None
    confirmed_by: str | None = Field(description="who confirmed it: a person, or 'auto' (sns_auto_confirm)")

    @classmethod
    def of(cls, row: SnsSubscription) -> SubscriptionOut:
        """Computed: when AWS stops accepting the token."""
        return cls.model_validate(computed(row, expires_at=expires_at(row)))
