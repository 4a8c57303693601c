"""The model of ``services/*.yaml``: a service, its SLOs, alert integrations, alert rules and
heartbeats."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from commandpost.policy.durations import Delay, Duration
from commandpost.policy.ops_base import SeverityName, Slug, Strict


class SLO(Strict):
    name: Slug
    objective: float = Field(gt=0, lt=100, description="percent, e.g. 99.9")
    window: Literal["30d", "28d", "7d", "quarter"] = "30d"
    sli: Literal["availability", "latency", "freshness", "correctness", "throughput"] = "availability"
    description: str = ""


IntegrationSource = Literal["pagerduty", "alertmanager", "grafana", "sns", "generic"]


class Integration(Strict):
    name: Slug
    source: IntegrationSource
    topic_arns: list[str] = Field(default_factory=list, description="sns only: the TopicArn allowlist")
    rate_limit_per_minute: int | None = Field(default=None, gt=0)


class AlertMatch(Strict):
    alertname: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    source_severity: str | None = None

    @model_validator(mode="after")
    def _something(self) -> AlertMatch:
        if not (self.alertname or self.labels or self.source_severity):
            raise ValueError("match needs at least one of alertname, labels, source_severity")
        return self


class AlertRule(Strict):
    match: AlertMatch
    severity: SeverityName
    runbook: Slug | None = None
    group_by: list[str] = Field(default_factory=list)


class Heartbeat(Strict):
    """A job that must ping commandpost every ``interval`` (cron, a batch, Alertmanager's Watchdog):
    when ``interval`` + ``grace`` pass without a ping, the alert ``HeartbeatMissed`` is raised on the
    service and routed like any alert; the next ping resolves it. Its key comes from ``apply``."""

    name: Slug = Field(description="unique across integrations and heartbeats; the integration key's name")
    interval: Duration = Field(description="how often the job pings, e.g. 1m, 1h, 1d")
    grace: Delay = Field(default=timedelta(0), description="how late a ping may be before it is missed")
    severity: SeverityName | None = Field(
        default=None, description="HeartbeatMissed's SEV when no alert rule matches (default: the service's)"
    )
    runbook: Slug | None = Field(default=None, description="default: the service's default_runbook")

    @field_validator("interval")
    @classmethod
    def _sensible(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=30) <= value <= timedelta(days=31):
            raise ValueError("interval must be between 30s and 31d")
        return value

    @field_validator("grace")
    @classmethod
    def _grace(cls, value: timedelta) -> timedelta:
        if value > timedelta(days=7):
            raise ValueError("grace must be at most 7d")
        return value


class Service(Strict):
    name: Slug
    owner: str = Field(min_length=1, description="a team name")
    description: str = ""
    escalation_policy: str | None = None
    slos: list[SLO] = Field(default_factory=list)
    integrations: list[Integration] = Field(default_factory=list)
    default_severity: SeverityName = "SEV3"
    default_runbook: Slug | None = None
    alert_rules: list[AlertRule] = Field(default_factory=list)
    heartbeats: list[Heartbeat] = Field(default_factory=list)
