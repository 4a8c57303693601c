"""Pydantic models of the ``ops/`` folder — everything decided before the failure.

Each file's shape is one model with ``extra="forbid"`` so a typo is an error,
not a silently ignored key. Cross-references between files (a service's owner
team, a policy's targets, a rule's runbook) are checked in ``xref.py``; this
module only checks what one file can say about itself.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from commandpost.policy.durations import Delay, Duration, parse_duration

SEVERITIES: tuple[str, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")
SeverityName = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
Slug = Annotated[str, Field(pattern=SLUG.pattern, max_length=100)]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA timezone (e.g. Asia/Tokyo, Europe/Berlin, UTC)") from exc
    return value


Timezone = Annotated[str, AfterValidator(_check_timezone)]


def _one_or_many(value: Any) -> Any:
    """The guide writes ``notify: oncall_channel`` and ``notify: [a, b]``; both mean a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


def _weekday(value: Any) -> str:
    text = str(value).strip().lower()
    for day in WEEKDAYS:
        if text == day or text == day[:3]:
            return day
    raise ValueError(f"{value!r} is not a weekday (monday … sunday, or mon … sun)")


# ---------------------------------------------------------------- commandpost.yaml


class BusinessHours(Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        return [_weekday(v) for v in value]

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


# ---------------------------------------------------------------- severities.yaml


class Severity(Strict):
    name: str = Field(min_length=1, description="short label, e.g. Critical")
    definition: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    response_target: Duration
    response_hours: Literal["always", "business_hours", "next_business_day"] = Field(
        default="always", description="when the response target clock runs (guide §2: SEV3/SEV4)"
    )
    paging: bool
    involve: list[str] = Field(default_factory=list, description="who is involved")
    comms_cadence: Duration | None = None
    comms_scope: list[Literal["internal", "external", "management"]] = Field(default_factory=list)
    postmortem_required: bool = False


class SeveritiesFile(Strict):
    severities: dict[str, Severity]

    @model_validator(mode="after")
    def _exactly_four(self) -> SeveritiesFile:
        missing = [s for s in SEVERITIES if s not in self.severities]
        extra = [s for s in self.severities if s not in SEVERITIES]
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unknown {', '.join(extra)}")
        if problems:
            raise ValueError(f"severities must be exactly SEV1, SEV2, SEV3 and SEV4: {'; '.join(problems)}")
        return self


# ---------------------------------------------------------------- people.yaml


def _e164(value: str) -> str:
    """A phone number as Twilio and Vonage take it: E.164 (``+819012345678``), and a real one."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number in E.164 form (+<country><number>)") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number for its country")
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if formatted != text:
        raise ValueError(f"{value!r} must be written in E.164 form: {formatted}")
    return formatted


Phone = Annotated[str, AfterValidator(_e164)]
NTFY_TOPIC = r"^[-_A-Za-z0-9]{1,64}$"
"""ntfy's own topic rule (no dots or slashes)."""

Method = Literal["push", "sms", "voice", "email", "slack", "webhook", "console"]
"""How a person can be told: a contact method's name, which is also the outbox channel's name."""
WAKING_METHODS: tuple[str, ...] = ("push", "sms", "voice")
"""The methods that can wake someone at 3 a.m.: a phone rings or buzzes."""
Urgency = Literal["high", "low"]


SLACK_MEMBER = "slack:"
"""A ``slack`` destination that names a person in Slack: ``slack:U0MEI00001``,
``slack:mei@example.com https://hooks.slack.com/…`` (member id or email, then the webhook if any).
Any other ``slack`` destination is an incoming-webhook URL (a team's channel, a person with no email)."""


def slack_parts(destination: str) -> tuple[str | None, str | None]:
    """(member id or email, webhook URL) of a ``slack`` destination; either may be None."""
    if not destination.startswith(SLACK_MEMBER):
        return None, destination or None
    member, _, webhook = destination.removeprefix(SLACK_MEMBER).partition(" ")
    return member or None, webhook.strip() or None


class ContactMethods(Strict):
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    slack_webhook: str | None = Field(default=None, pattern=r"^https?://")
    webhook: str | None = Field(default=None, pattern=r"^https?://")
    phone: Phone | None = Field(default=None, description="E.164; SMS and voice pages go here")
    sms: Phone | None = Field(default=None, description="E.164, when texts go to another number than calls")
    ntfy_topic: str | None = Field(
        default=None, pattern=NTFY_TOPIC, description="the person's ntfy topic for push (unguessable)"
    )
    slack_user: str | None = Field(
        default=None,
        pattern=r"^[UW][A-Z0-9]{2,20}$",
        description="Slack member id (U…): who they are in Slack; else found by users.lookupByEmail",
    )

    def slack_address(self) -> str | None:
        """The ``slack`` method's destination (:func:`slack_parts` reads it back): the person in Slack,
        when people.yaml says they are there, and their webhook. ``slack_user`` names the member;
        else, beside a webhook, the email finds them (``users.lookupByEmail``). The sender DMs the
        member when the bot token is set, else posts to the webhook. An email alone does not make a
        Slack destination: every page would be a dead letter on a server without the bot."""
        member = self.slack_user or (self.email if self.slack_webhook else None)
        if member is None:
            return self.slack_webhook
        return SLACK_MEMBER + member + (f" {self.slack_webhook}" if self.slack_webhook else "")

    def address(self, method: str) -> str | None:
        """Where ``method`` reaches this person (None: it does not)."""
        match method:
            case "push":
                return self.ntfy_topic
            case "sms":
                return self.sms or self.phone
            case "voice":
                return self.phone
            case "slack":
                return self.slack_address()
            case "email" | "webhook":
                return getattr(self, method)
        return None


class NotificationRule(Strict):
    """PagerDuty's and GoAlert's shape: ``after`` the page, tell the person on ``methods``, unless the
    page has been acknowledged by then."""

    after: Delay = timedelta(0)
    methods: NameList = Field(min_length=1)

    @field_validator("methods")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method {', '.join(unknown)}; methods are {', '.join(METHODS)}")
        return list(dict.fromkeys(value))


METHODS: tuple[str, ...] = ("push", "sms", "voice", "email", "slack", "webhook", "console")


class Person(Strict):
    handle: Slug
    name: str = Field(min_length=1)
    timezone: Timezone = "UTC"
    contact: ContactMethods = Field(default_factory=ContactMethods)
    notify: dict[SeverityName, list[Method]] = Field(
        default_factory=dict,
        description="per-severity methods, all at once (the older form); wins over notification_rules "
        "for the severities it names",
    )
    notification_rules: dict[Urgency, list[NotificationRule]] = Field(
        default_factory=dict,
        description="per urgency (high: paging severities), the steps until the page is acknowledged; "
        "default: every contact method at once",
    )

    @field_validator("notification_rules")
    @classmethod
    def _in_order(cls, value: dict[str, list[NotificationRule]]) -> dict[str, list[NotificationRule]]:
        for urgency, steps in value.items():
            if len({step.after for step in steps}) != len(steps):
                raise ValueError(f"{urgency}: two rules at the same 'after'; put their methods in one rule")
        return {urgency: sorted(steps, key=lambda s: s.after) for urgency, steps in value.items()}


class TeamChannel(Strict):
    name: str = Field(min_length=1, description="e.g. #payments-oncall")
    slack_webhook: str | None = Field(default=None, pattern=r"^https?://")
    webhook: str | None = Field(default=None, pattern=r"^https?://")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


class Team(Strict):
    name: Slug
    members: list[str] = Field(default_factory=list)
    lead: str | None = None
    channel: TeamChannel | None = None


class PeopleFile(Strict):
    people: list[Person] = Field(min_length=1)
    teams: list[Team] = Field(default_factory=list)


# ---------------------------------------------------------------- services/*.yaml


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


# ---------------------------------------------------------------- escalation/*.yaml


class EscalationLevel(Strict):
    targets: NameList = Field(min_length=1)
    after: Duration | None = None


class SeverityRoute(Strict):
    """One severity's routing, in the guide's shape (page / escalate_after / then / notify) or as levels."""

    page: NameList = Field(default_factory=list)
    escalate_after: Duration | None = None
    then: NameList = Field(default_factory=list)
    notify: NameList = Field(default_factory=list)
    levels: list[EscalationLevel] = Field(default_factory=list)
    repeat: int = Field(default=0, ge=0, le=10)

    @model_validator(mode="after")
    def _shape(self) -> SeverityRoute:
        if self.levels and (self.page or self.then or self.escalate_after):
            raise ValueError("use either page/escalate_after/then or levels, not both")
        if self.then and not self.escalate_after:
            raise ValueError("'then' needs 'escalate_after' (how long to wait for an ack)")
        if self.then and not self.page:
            raise ValueError("'then' needs 'page' (who is paged first)")
        if not (self.page or self.levels or self.notify):
            raise ValueError("a severity route needs page, levels or notify")
        return self

    def escalation_levels(self) -> list[EscalationLevel]:
        """The guide's shape as levels: page now, then everyone in ``then`` after ``escalate_after``."""
        if self.levels:
            return list(self.levels)
        levels = []
        if self.page:
            levels.append(EscalationLevel(targets=self.page, after=None))
        if self.then:
            levels.append(EscalationLevel(targets=self.then, after=self.escalate_after))
        return levels

    def all_targets(self) -> list[str]:
        names = [*self.page, *self.then, *self.notify]
        for level in self.levels:
            names.extend(level.targets)
        return names


class Target(Strict):
    """What a name in a policy is: exactly one of schedule(+layer), person, team, channel, status_page."""

    schedule: str | None = None
    layer: str | None = None
    person: str | None = None
    team: str | None = None
    channel: str | None = Field(default=None, description="a team whose channel receives it")
    status_page: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        kinds = [k for k in ("schedule", "person", "team", "channel") if getattr(self, k)]
        if self.status_page:
            kinds.append("status_page")
        if len(kinds) != 1:
            raise ValueError(
                "a target is exactly one of: {schedule, layer}, person, team, channel, status_page: true"
            )
        if self.layer and not self.schedule:
            raise ValueError("'layer' goes with 'schedule'")
        return self

    @property
    def kind(self) -> str:
        for k in ("schedule", "person", "team", "channel"):
            if getattr(self, k):
                return k
        return "status_page"


class OncallNote(Strict):
    rotation: str | None = None
    handoff: str | None = None
    compensation: str | None = None


class EscalationPolicy(Strict):
    name: str = ""
    service: str
    severity_routing: dict[SeverityName, SeverityRoute]
    oncall: OncallNote | None = None
    targets: dict[str, Target] = Field(default_factory=dict)


# ---------------------------------------------------------------- schedules/*.yaml


class Handoff(Strict):
    weekday: Annotated[str, BeforeValidator(_weekday)] | None = None
    time: dt.time = dt.time(10, 0)
    timezone: Timezone = "UTC"


def _rotation_length(value: Any) -> Any:
    if value in ("weekly", "daily"):
        return value
    try:
        parse_duration(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a rotation length (weekly, daily, or e.g. 3d, 12h)") from None
    return str(value)


class Rotation(Strict):
    members: list[str] = Field(min_length=1)
    length: Annotated[str, BeforeValidator(_rotation_length)] = "weekly"
    start: date
    handoff: Handoff = Field(default_factory=Handoff)

    def turn(self) -> timedelta:
        return {"weekly": timedelta(weeks=1), "daily": timedelta(days=1)}.get(self.length) or parse_duration(
            self.length
        )


class Restriction(Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    start: dt.time
    end: dt.time

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        return [_weekday(v) for v in value]


class Layer(Strict):
    """A rotation (with optional restriction windows), or a ``stack`` of the schedule's other layers.

    A stack is PagerDuty's and Grafana OnCall's "final schedule": at every instant it has the person
    of the last listed layer that has someone then, else the one before, and so on (docs/oncall.md,
    "Stacked layers"). That the names are rotation layers of the same schedule ``commandpost check``
    verifies (one layer cannot see its siblings)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["rotation"]}, {"required": ["stack"]}]}
    )

    name: Slug
    rotation: Rotation | None = None
    stack: list[Slug] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="layer names, lowest first: the last one with someone on call wins",
    )
    restrictions: list[Restriction] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rotation_or_stack(self) -> Layer:
        if (self.rotation is None) == (self.stack is None):
            raise ValueError(
                f"layer '{self.name}' needs exactly one of 'rotation' (who takes turns) or "
                "'stack' (a list of this schedule's layers, the last with someone on call wins)"
            )
        if self.stack is not None:
            if self.restrictions:
                raise ValueError(
                    f"layer '{self.name}': a stack has no restrictions of its own; "
                    "restrict the layers it stacks"
                )
            twice = sorted({name for name in self.stack if self.stack.count(name) > 1})
            if twice:
                raise ValueError(f"layer '{self.name}': stack names {', '.join(twice)} more than once")
            if self.name in self.stack:
                raise ValueError(f"layer '{self.name}': a stack cannot contain itself")
        return self


class Schedule(Strict):
    name: str = ""
    description: str = ""
    timezone: Timezone = "UTC"
    layers: list[Layer] = Field(min_length=1)

    def layer(self, name: str) -> Layer | None:
        return next((x for x in self.layers if x.name == name), None)

    def stacked_layers(self, layer: Layer) -> list[Layer]:
        """The rotation layers a stack names, lowest first (names that are no rotation layer of this
        schedule are skipped: ``check`` refuses them, so only an unchecked model has them)."""
        found = [self.layer(name) for name in layer.stack or ()]
        return [x for x in found if x is not None and x.rotation is not None]

    def in_stacks(self) -> set[str]:
        """The names of the layers some stack of this schedule stacks."""
        return {name for layer in self.layers for name in layer.stack or ()}

    def turn(self, layer: Layer) -> timedelta:
        """A rotation's shift length; a stack's is its longest layer's (one day with none)."""
        if layer.rotation is not None:
            return layer.rotation.turn()
        return max(
            (x.rotation.turn() for x in self.stacked_layers(layer) if x.rotation), default=timedelta(days=1)
        )


# ---------------------------------------------------------------- runbooks/*.md front matter


class RunbookFrontMatter(Strict):
    owner: str = Field(min_length=1)
    last_updated: date
    slo: str = Field(min_length=1)
    severity: SeverityName
    alerts: NameList = Field(default_factory=list)
    service: str | None = None
    escalates_to: SeverityName | None = None
    title: str | None = None


class Runbook(Strict):
    slug: Slug
    path: str
    front_matter: RunbookFrontMatter
    body: str
    content_hash: str


# ---------------------------------------------------------------- the whole folder


class OpsConfig(Strict):
    """The validated, cross-checked ops folder: what a revision stores and the server runs on."""

    settings: OrgSettings
    severities: dict[str, Severity]
    people: list[Person]
    teams: list[Team]
    services: list[Service]
    policies: list[EscalationPolicy]
    schedules: list[Schedule]
    runbooks: list[Runbook]

    # Lookups used across domains. Linear scans are fine: an ops folder is small.
    def severity(self, name: str) -> Severity:
        return self.severities[name]

    def person(self, handle: str) -> Person | None:
        handle = handle.lstrip("@")
        return next((p for p in self.people if p.handle == handle), None)

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def policy(self, name: str) -> EscalationPolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def schedule(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if s.name == name), None)

    def runbook(self, slug: str) -> Runbook | None:
        return next((r for r in self.runbooks if r.slug == slug), None)

    def comms_cadence(self, severity: str) -> timedelta | None:
        """How often a severity's incidents need a comms update (None: no cadence)."""
        return self.settings.comms.cadence.get(severity) or self.severities[severity].comms_cadence  # type: ignore[call-overload]

    def integrations(self) -> list[tuple[Service, Integration]]:
        return [(s, i) for s in self.services for i in s.integrations]

    def heartbeats(self) -> list[tuple[Service, Heartbeat]]:
        return [(s, h) for s in self.services for h in s.heartbeats]
