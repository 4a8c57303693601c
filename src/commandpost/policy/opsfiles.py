"""The ``ops/`` folder as one model, :class:`OpsConfig`: what a revision stores and the server runs on.

Each kind of file has its own module of models (``ops_org``, ``ops_severities``, ``ops_people``,
``ops_services``, ``ops_escalation``, ``ops_schedules``, ``ops_runbooks``, all built on
``ops_base``). The names other domains import from here are re-exported, so their imports did not
change when the models moved out; ``__all__`` lists exactly those.
"""

from __future__ import annotations

from datetime import timedelta

from commandpost.policy.ops_base import SEVERITIES, SLUG, WEEKDAYS, Strict
from commandpost.policy.ops_escalation import EscalationPolicy, SeverityRoute, Target
from commandpost.policy.ops_org import OrgSettings, PostmortemSettings, SlackSettings
from commandpost.policy.ops_people import (
    METHODS,
    SLACK_MEMBER,
    WAKING_METHODS,
    ContactMethods,
    PeopleFile,
    Person,
    Team,
    slack_parts,
)
from commandpost.policy.ops_runbooks import Runbook, RunbookFrontMatter
from commandpost.policy.ops_schedules import Layer, Restriction, Rotation, Schedule
from commandpost.policy.ops_services import SLO, AlertMatch, AlertRule, Heartbeat, Integration, Service
from commandpost.policy.ops_severities import SeveritiesFile, Severity

__all__ = [
    "METHODS",
    "SEVERITIES",
    "SLACK_MEMBER",
    "SLO",
    "SLUG",
    "WAKING_METHODS",
    "WEEKDAYS",
    "AlertMatch",
    "AlertRule",
    "ContactMethods",
    "EscalationPolicy",
    "Heartbeat",
    "Layer",
    "OpsConfig",
    "OrgSettings",
    "PeopleFile",
    "Person",
    "PostmortemSettings",
    "Restriction",
    "Rotation",
    "RunbookFrontMatter",
    "Schedule",
    "Service",
    "SeveritiesFile",
    "Severity",
    "SeverityRoute",
    "SlackSettings",
    "Target",
    "Team",
    "slack_parts",
]


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
