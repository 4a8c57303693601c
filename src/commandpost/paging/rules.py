"""Escalation rules, pure: which level fires next and when, who a policy name means, when an FYI goes.

No session and no clock. The on-call lookup is passed in as a function, so a test gives a dict.

A chain is the severity route's levels (``SeverityRoute.escalation_levels()``: the guide's
``page`` / ``escalate_after`` / ``then`` become two levels). A level's ``after`` is the wait
since the previous level fired without an acknowledgement (level 0: since the start, normally
none). After the last level a route with ``repeat: N`` starts again from level 0, N times; the
wait before a repeat is level 0's ``after`` when given, else the last level's, else
:data:`DEFAULT_REPEAT_DELAY`. A level that reached nobody (an empty on-call layer) is not a
reason to wait: the next level is due at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from commandpost.alerts import rules as alert_rules
from commandpost.incidents import rules as incident_rules
from commandpost.policy.opsfiles import EscalationPolicy, OpsConfig, SeverityRoute, Target

ZERO = timedelta(0)
DEFAULT_REPEAT_DELAY = timedelta(minutes=5)

ACTIVE, ACKNOWLEDGED, RESOLVED, STOPPED = "active", "acknowledged", "resolved", "stopped"
STATES = (ACTIVE, ACKNOWLEDGED, RESOLVED, STOPPED)

OnCall = Callable[[str, str], str | None]
"""``on_call(schedule, layer)`` → the handle on call at the instant being paged, or None."""


@dataclass(frozen=True, slots=True)
class Level:
    targets: tuple[str, ...]
    after: timedelta


@dataclass(frozen=True, slots=True)
class Position:
    """The next level to fire, its cycle (0 = first pass, 1 = first repeat …), and when; ``at`` None:
    the chain is exhausted (nothing fires by itself any more; ``escalate`` still can)."""

    level: int
    repeat: int
    at: datetime | None


def effective_state(state: str, *, incident_status: str, acknowledged: bool) -> str:
    """A chain's stored state, or what the engine will record at its next look (it reads lazily): an
    active chain of an incident no longer open is resolved, of an acknowledged one acknowledged."""
    if state == ACTIVE and not incident_rules.is_open(incident_status):
        return RESOLVED
    if state == ACTIVE and acknowledged:
        return ACKNOWLEDGED
    return state


def levels_of(route: SeverityRoute) -> tuple[Level, ...]:
    return tuple(Level(tuple(x.targets), x.after or ZERO) for x in route.escalation_levels())


def start(levels: tuple[Level, ...], now: datetime) -> Position:
    """A new chain: level 0 is due after its own ``after`` (normally at once)."""
    if not levels:
        return Position(0, 0, None)
    return Position(0, 0, now + levels[0].after)


def repeat_delay(levels: tuple[Level, ...]) -> timedelta:
    if levels[0].after > ZERO:
        return levels[0].after
    if levels[-1].after > ZERO:
        return levels[-1].after
    return DEFAULT_REPEAT_DELAY


def after_fire(
    levels: tuple[Level, ...], *, level: int, repeat: int, repeat_limit: int, at: datetime, reached: bool
) -> Position:
    """What follows firing ``level`` of cycle ``repeat`` at ``at`` (``reached``: somebody was paged)."""
    following = level + 1
    if following < len(levels):
        return Position(following, repeat, at + (levels[following].after if reached else ZERO))
    if repeat < repeat_limit:
        return Position(0, repeat + 1, at + (repeat_delay(levels) if reached else ZERO))
    return Position(len(levels), repeat, None)


def manual_level(levels: tuple[Level, ...], *, level: int, repeat: int) -> tuple[int, int]:
    """``escalate``: the level that is next, or level 0 of one more cycle once the chain is exhausted."""
    if level < len(levels):
        return level, repeat
    return 0, repeat + 1


def describe(levels: tuple[Level, ...], level: int, repeat: int, repeat_limit: int) -> str:
    text = f"level {level + 1} of {len(levels)}"
    if repeat:
        text += f", repeat {repeat} of {repeat_limit}" if repeat <= repeat_limit else f", repeat {repeat}"
    return text


# ------------------------------------------------------------------ which policy, which route


def policy_for(config: OpsConfig, service: str | None) -> EscalationPolicy | None:
    found = config.service(service) if service else None
    if found is None or not found.escalation_policy:
        return None
    return config.policy(found.escalation_policy)


def route_for(policy: EscalationPolicy | None, severity: str) -> SeverityRoute | None:
    if policy is None:
        return None
    return policy.severity_routing.get(severity)  # type: ignore[call-overload]


def fyi_not_before(config: OpsConfig, severity: str, route: SeverityRoute, now: datetime) -> datetime | None:
    """FYIs of a route that pages nobody (SEV3: ``notify`` only) wait for business hours when the
    severity is handled within them (``response_hours`` other than ``always``); others go now."""
    if route.escalation_levels():
        return None
    rule = config.severities.get(severity)
    if rule is None or rule.response_hours == "always":
        return None
    opening = alert_rules.next_business_start(config, now)
    return opening if opening > now else None


# ------------------------------------------------------------------ who a name means


@dataclass(frozen=True, slots=True)
class Recipient:
    """Somebody a name reaches: a person (paged on their contact methods) or a team's channel."""

    target: str
    person: str | None = None
    team_channel: str | None = None
    why: str = ""

    @property
    def label(self) -> str:
        return f"@{self.person}" if self.person else f"#{self.team_channel}"


@dataclass(frozen=True, slots=True)
class Resolution:
    recipients: tuple[Recipient, ...]
    notes: tuple[str, ...]
    """what could not be paged and why, and status-page entries — for the timeline"""
    status_page: bool = False


def target_of(policy: EscalationPolicy | None, config: OpsConfig, name: str) -> Target | None:
    """A policy name: an entry of ``targets:``, else a person handle, else a team name."""
    if policy is not None and name in policy.targets:
        return policy.targets[name]
    if config.person(name) is not None:
        return Target(person=name.lstrip("@"))
    if config.team(name) is not None:
        return Target(team=name)
    return None


def resolve(
    policy: EscalationPolicy | None, config: OpsConfig, names: tuple[str, ...] | list[str], on_call: OnCall
) -> Resolution:
    """Everyone ``names`` reach now, each once (first name wins), in order.

    A schedule layer is whoever is on call (overrides applied); a schedule without a layer means
    its first layer. A team is its lead (every member when it has no lead) and its channel. A
    ``channel`` target is the team's channel. ``status_page`` is noted for the timeline.
    """
    out: list[Recipient] = []
    notes: list[str] = []
    status_page = False
    seen: set[tuple[str | None, str | None]] = set()

    def add(recipient: Recipient) -> None:
        key = (recipient.person, recipient.team_channel)
        if key not in seen:
            seen.add(key)
            out.append(recipient)

    for name in names:
        target = target_of(policy, config, name)
        if target is None:
            notes.append(f"{name}: not a target, person or team of the applied ops folder")
            continue
        if target.schedule:
            schedule = config.schedule(target.schedule)
            layer = target.layer or (schedule.layers[0].name if schedule else "")
            person = on_call(target.schedule, layer) if schedule else None
            if person is None:
                notes.append(f"{name}: nobody is on call for {target.schedule}/{layer}")
            else:
                add(Recipient(name, person=person, why=f"on call for {target.schedule}/{layer}"))
        elif target.person:
            add(Recipient(name, person=target.person.lstrip("@")))
        elif target.team:
            team = config.team(target.team)
            if team is None:
                notes.append(f"{name}: no team {target.team!r} in people.yaml")
                continue
            people = [team.lead] if team.lead else list(team.members)
            for handle in people:
                add(Recipient(name, person=handle, why=f"{'lead' if team.lead else 'member'} of {team.name}"))
            add(Recipient(name, team_channel=team.name, why=f"channel of {team.name}"))
        elif target.channel:
            add(Recipient(name, team_channel=target.channel, why=f"channel of {target.channel}"))
        else:
            status_page = True
            notes.append(
                f"{name}: on the public status page (/status) once Comms or the IC publishes it "
                "(the incident page's Status page form, or commandpost incident publish)"
            )
    return Resolution(tuple(out), tuple(notes), status_page)
