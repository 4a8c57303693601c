"""What paging decides with: the applied config and per-instant caches (:class:`Decider`), and what
the config says about one incident — its policy, its severity's route, the levels that page, and
where a recipient is told.

One :class:`Decider` serves one engine pass (or one API request): everyone it looks up is looked up
at the same ``now``, and each incident's page text is built once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.oncall import service as oncall_service
from commandpost.paging import page, rules
from commandpost.paging.rules import Level, Recipient
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import EscalationPolicy, OpsConfig, SeverityRoute


@dataclass
class Decider:
    """What one engine pass (or one API request) decides with: the applied config, the base URL,
    and per-instant caches (who is on call at ``now``, each incident's page text)."""

    config: OpsConfig
    base_url: str
    now: datetime
    _on_call: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _texts: dict[int, page.PageText] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session, *, base_url: str, now: datetime) -> Decider:
        return cls(policy_service.current_config(session), base_url, now)

    def on_call(self, session: Session) -> rules.OnCall:
        def lookup(schedule: str, layer: str) -> str | None:
            key = (schedule, layer)
            if key not in self._on_call:
                self._on_call[key] = oncall_service.who_is_on_call(
                    session, config=self.config, schedule=schedule, layer=layer, at=self.now
                )
            return self._on_call[key]

        return lookup

    def text(self, incident: Incident) -> page.PageText:
        found = self._texts.get(incident.id)
        if found is None or found.severity != incident.severity:
            found = self._texts[incident.id] = page.build(self.config, incident, base_url=self.base_url)
        return found

    def local(self, at: datetime | None, fmt: str = "%H:%M %Z") -> str:
        return timeline.local(at, self.config.settings.timezone, fmt) if at else "—"

    def local_for(self, at: datetime, timezone: str) -> str:
        """A time as the recipient reads it: in their own zone, the incident's (the org's) in brackets
        where it differs — "03:12 JST [19:12 CET]"."""
        return timeline.local_for(at, timezone, self.config.settings.timezone)

    def timezone_of(self, recipient: Recipient) -> str:
        """The zone a recipient reads times in: the person's (people.yaml), else the org's."""
        person = self.config.person(recipient.person) if recipient.person else None
        return person.timezone if person is not None else self.config.settings.timezone


def pages(config: OpsConfig, severity: str) -> bool:
    """Whether ``severity`` pages (severities.yaml ``paging: true``)."""
    rule = config.severities.get(severity)
    return bool(rule and rule.paging)


def chain_of(
    config: OpsConfig, incident: Incident
) -> tuple[EscalationPolicy | None, SeverityRoute | None, tuple[Level, ...]]:
    """The incident's policy, its severity's route, and the levels that page (none unless the
    severity pages: severities.yaml decides *whether*, the policy decides *whom*)."""
    policy = rules.policy_for(config, incident.service)
    route = rules.route_for(policy, incident.severity)
    levels = rules.levels_of(route) if route and pages(config, incident.severity) else ()
    return policy, route, levels


def no_policy(incident: Incident) -> str:
    """Why an incident has no escalation policy, for the timeline and for an error."""
    if not incident.service:
        return "the incident has no service, so no escalation policy"
    return f"service '{incident.service}' has no escalation policy"


def destinations(config: OpsConfig, recipient: Recipient, severity: str) -> list[tuple[str, str]]:
    """Where a recipient is told (no ack asked): a person's methods for ``severity``, or a team's channel."""
    if recipient.person:
        return notify_service.destinations_for_person(config, recipient.person, severity)
    return notify_service.destinations_for_team_channel(config, recipient.team_channel or "")


def page_steps(config: OpsConfig, recipient: Recipient, severity: str) -> list[notify_service.Step]:
    """How a page reaches a recipient: a person's rules step by step, a team's channel at once."""
    if recipient.person:
        return notify_service.page_steps(config, recipient.person, severity)
    return [
        notify_service.Step(timedelta(0), channel, destination)
        for channel, destination in notify_service.destinations_for_team_channel(
            config, recipient.team_channel or ""
        )
    ]
