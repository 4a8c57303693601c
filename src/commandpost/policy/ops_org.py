"""The model of ``commandpost.yaml``: the org's settings (timezone, business hours, comms,
postmortems, Slack, the status page, ticket trackers)."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from commandpost.policy.durations import Duration
from commandpost.policy.ops_base import WEEKDAYS, SeverityName, Strict, Timezone, parse_weekday


class BusinessHours(Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        return [parse_weekday(v) for v in value]

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"business hours end {self.end} is not after start {self.start}")
        return self


class CommsSettings(Strict):
    cadence: dict[SeverityName, Duration] = Field(default_factory=dict)
    templates: dict[Literal["initial", "update", "resolved"], str] = Field(default_factory=dict)


class PostmortemSettings(Strict):
    required_severities: list[SeverityName] = Field(default_factory=lambda: ["SEV1", "SEV2"])  # type: ignore[arg-type]
    data_loss: bool = True
    manual_intervention: bool = True
    manual_detection: bool = True
    resolve_time_threshold: dict[SeverityName, Duration] = Field(default_factory=dict)
    blameless: Literal["warn", "strict"] = "warn"
    vague_words: list[str] = Field(
        default_factory=lambda: [
            "be careful",
            "pay attention",
            "thoroughly",
            "double-check",
            "try to",
            "make sure to",
        ]
    )

    @field_validator("required_severities")
    @classmethod
    def _no_sev4(cls, value: list[str]) -> list[str]:
        if "SEV4" in value:
            raise ValueError("SEV4 never requires a postmortem (guide §5-2: a ticket suffices)")
        return value


class SlackSettings(Strict):
    """The org's Slack workspace as the command post (issue 17): where incidents are announced, what
    happens on close, and who joins each incident channel by severity."""

    announce_channel: str | None = Field(
        default=None, pattern=r"^[#]?[a-z0-9][a-z0-9_-]{0,79}$|^C[A-Z0-9]{2,}$", description="#name or C… id"
    )
    archive_on_close: bool = Field(default=True, description="archive once the postmortem is Final")
    invite: dict[SeverityName, list[str]] = Field(
        default_factory=dict, description="extra people (handles) or teams invited per severity"
    )
    command: str = Field(default="/inc", pattern=r"^/[a-z0-9_-]{1,31}$", description="the slash command")


class StatusPageSettings(Strict):
    """What the public status page tells beyond what Comms published (issue 18): the internal INC
    numbers and SEV labels stay internal unless the org opts in."""

    show_incident_numbers: bool = Field(default=False, description="INC-n beside each public incident")
    show_severity: bool = Field(default=False, description="the SEV label beside each public incident")


class GitHubTracker(Strict):
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    base_url: str = Field(default="https://api.github.com", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    labels: list[str] = Field(default_factory=list)


class GitLabTracker(Strict):
    project: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$|^[0-9]+$", description="group/name or id"
    )
    base_url: str = Field(default="https://gitlab.com", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    labels: list[str] = Field(default_factory=list)


class JiraTracker(Strict):
    base_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description="https://<site>.atlassian.net")
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$", description="the project key, e.g. OPS")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="the account the API token belongs to")
    issue_type: str = Field(default="Task", min_length=1, max_length=100)
    labels: list[str] = Field(default_factory=list)


class LinearTracker(Strict):
    team_id: str = Field(min_length=1, max_length=100, description="the team's UUID")
    base_url: str = Field(default="https://api.linear.app", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")


class TrackerSettings(Strict):
    """Where action items' tickets go (issue 21); tokens come from the environment, never from here."""

    default: Literal["github", "gitlab", "jira", "linear"] | None = None
    github: GitHubTracker | None = None
    gitlab: GitLabTracker | None = None
    jira: JiraTracker | None = None
    linear: LinearTracker | None = None

    @model_validator(mode="after")
    def _default_configured(self) -> TrackerSettings:
        if self.default is not None and getattr(self, self.default) is None:
            raise ValueError(f"default: {self.default} has no trackers.{self.default} section")
        return self


class OrgSettings(Strict):
    org: str = Field(min_length=1)
    timezone: Timezone = "UTC"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    incident_channel_template: str = "inc-{date}-{slug}"
    runbook_base_url: str = ""
    runbook_max_age: Duration = timedelta(days=90)
    handover_offer_ttl: Duration = timedelta(minutes=15)
    comms: CommsSettings = Field(default_factory=CommsSettings)
    postmortem: PostmortemSettings = Field(default_factory=PostmortemSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    status_page: StatusPageSettings = Field(default_factory=StatusPageSettings)
    trackers: TrackerSettings = Field(default_factory=TrackerSettings)

    @field_validator("incident_channel_template")
    @classmethod
    def _template(cls, value: str) -> str:
        allowed = {"date", "slug", "number", "service", "severity"}
        used = set(re.findall(r"{(\w+)}", value))
        unknown = used - allowed
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)} in channel template; use {sorted(allowed)}"
            )
        return value
