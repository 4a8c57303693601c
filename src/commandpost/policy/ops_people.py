"""The model of ``people.yaml``: people, how each is reached (contact methods, notification rules),
and teams."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, Field, field_validator

from commandpost.policy.durations import Delay
from commandpost.policy.ops_base import NameList, SeverityName, Slug, Strict, Timezone


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
