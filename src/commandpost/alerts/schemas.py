"""Response bodies of the alerts API (the intake endpoints answer in their sources' own shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from commandpost.alerts.models import Alert, ChangeEvent
from commandpost.incidents.rules import format_number


def incident_ref(number: int | None) -> str | None:
    return format_number(number) if number is not None else None


class AlertOut(BaseModel):
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
    rule: int | None = Field(description="index of the matched alert rule of the service; null: the default")
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
        return cls(
            **{name: getattr(alert, name) for name in cls.model_fields if name != "incident"},
            incident=incident_ref(alert.incident_number),
        )


class AlertDetailOut(AlertOut):
    labels: dict[str, Any]
    annotations: dict[str, Any]
    details: dict[str, Any]
    links: list[Any]
    raw: dict[str, Any] = Field(description="the body it came from, redacted and size-capped")

    @classmethod
    def of(cls, alert: Alert) -> AlertDetailOut:
        return cls(
            **{name: getattr(alert, name) for name in cls.model_fields if name != "incident"},
            incident=incident_ref(alert.incident_number),
        )


class ChangeOut(BaseModel):
    id: int
    service: str
    summary: str
    origin: str
    occurred_at: datetime
    received_at: datetime
    details: dict[str, Any]
    links: list[Any]

    @classmethod
    def of(cls, change: ChangeEvent) -> ChangeOut:
        return cls(**{name: getattr(change, name) for name in cls.model_fields})


class IncidentChangesOut(BaseModel):
    incident: str
    service: str | None
    since: datetime | None = Field(description="24 h before the incident was detected")
    changes: list[ChangeOut] = Field(description="newest first")
