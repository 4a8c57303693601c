"""What a vendor import produces, before it is written as an ops folder.

The mapping is the vendor module's; this is the shape every vendor fills, so the folder writer, the
report and the tests are shared. Objects are plain dicts in the ops files' own YAML shape (the folder
is checked by the real loader after writing, so a wrong shape is caught there, with file and line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Unmapped:
    """Something of the source that the ops folder does not carry, and why (one report line)."""

    kind: str  # user, team, schedule, layer, escalation_policy, service, integration, override, …
    source_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class Override:
    """A current or future override: runtime data for ``commandpost override add``, not YAML."""

    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime
    note: str = ""


@dataclass(frozen=True)
class OldIntegration:
    """A sender of the source, the commandpost integration that replaces it, and its old key masked.

    The senders switch one at a time: the report lists each, so the old tool keeps taking alerts
    from those not switched yet."""

    service: str
    integration: str  # the commandpost integration's name (its key is made by ``apply``)
    source: str  # commandpost's source kind: pagerduty, alertmanager, grafana, generic, …
    vendor_type: str  # the vendor's own integration type
    old_key: str  # masked: the last 4 characters only
    note: str = ""


@dataclass
class ImportResult:
    """Everything read from one vendor account, in commandpost's shapes."""

    vendor: str
    org: str
    timezone: str
    people: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)  # file stem → schedules/*.yaml
    escalation: dict[str, dict[str, Any]] = field(default_factory=dict)  # file stem → escalation/*.yaml
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # file stem → services/*.yaml
    overrides: list[Override] = field(default_factory=list)
    integrations: list[OldIntegration] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    source_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # kind → source id → our name

    def skip(self, kind: str, source_id: str, name: str, reason: str) -> None:
        """Record one thing not mapped (the report's line for it)."""
        self.unmapped.append(Unmapped(kind, source_id, name, reason))

    def counts(self) -> dict[str, int]:
        return {
            "people": len(self.people),
            "teams": len(self.teams),
            "schedules": len(self.schedules),
            "escalation_policies": len(self.escalation),
            "services": len(self.services),
            "overrides": len(self.overrides),
            "integrations": len(self.integrations),
            "unmapped": len(self.unmapped),
        }


def mask_key(key: str) -> str:
    """An old routing key as the report shows it: enough to recognise, never enough to use."""
    return f"…{key[-4:]}" if len(key) > 8 else "…"
