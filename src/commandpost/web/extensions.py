"""What the incident page shows from other domains: its pages and escalation, who is on call for its
service now and whom the escalation pages next, the SLO freeze, the alert's source link, the Slack
channel, and who may be offered a role.

One place for the cross-domain reads of the command post, so the page template stays a template.
Each function calls the owning domain's service or rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.metrics import slo
from commandpost.notify import service as notify_service
from commandpost.oncall import service as oncall_service
from commandpost.paging import decider as paging_decider
from commandpost.paging import rules as paging_rules
from commandpost.paging import service as paging_service
from commandpost.paging.schemas import EscalationOut, PageOut
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig, Person
from commandpost.security import service as security_service
from commandpost.security.rules import is_service_account
from commandpost.slack.models import SlackChannel

SLACK_OPEN = "https://slack.com/app_redirect?channel="
"""Slack's documented deep link that opens a channel (by id, or by name) in the app or the browser."""
# The alert links that are the alert's source (its rule or graph), in order of preference: an
# Alertmanager alert's generatorURL, a Grafana alert's, CloudWatch's alarm (alerts.sources).
SOURCE_LINKS = ("Prometheus", "Grafana alert rule", "CloudWatch alarm")
# not this alert's source: a silence form, a picture, the home page of the tool that sent it
NOT_A_SOURCE = ("Silence in Grafana", "Alert image", "Alertmanager", "Grafana")


def pages_of(session: Session, incident: Incident) -> list[PageOut]:
    """Who was paged (and FYI'd) when, on which channel, delivered or not — as ``GET …/pages`` shows it."""
    messages = notify_service.messages_for_incident(session, incident_id=incident.id)
    attempts = notify_service.attempts_for(session, message_ids=[m.id for m in messages])
    return [PageOut.of(m, attempts[m.id]) for m in messages]


def escalation_of(session: Session, incident: Incident) -> EscalationOut | None:
    """Where the incident's escalation stands (level, next due, stopped by whom)."""
    esc = paging_service.escalation_of(session, incident=incident)
    return EscalationOut.of(esc, incident, policy_service.current_config(session)) if esc else None


def slo_freeze(session: Session, incident: Incident, *, now: datetime) -> str | None:
    """The SLO freeze banner (guide §7): the service's error budget is exhausted — stop feature work.
    Only while the incident is open: a resolved one's page is read later, when the freeze is old news."""
    if not incident.service or not incident_rules.is_open(incident.status):
        return None
    config = policy_service.current_config(session)
    if config.service(incident.service) is None:
        return None
    found = slo.freeze_status(session, config=config, service=incident.service, now=now)
    if not found.frozen:
        return None
    return (
        f"{incident.service} has exhausted its error budget ({', '.join(found.exhausted)}): "
        "feature work is frozen; invest in reliability"
    )


@dataclass(frozen=True)
class OnCallNow:
    """One schedule layer the incident's escalation policy names, and who holds it now (None: nobody)."""

    schedule: str
    layer: str
    person: str | None


@dataclass(frozen=True)
class NextStep:
    """The escalation's next page: the level, whom it reaches now, and when it fires by itself (None:
    it does not — ``why`` says why: acknowledged, resolved, every level paged …). Escalate now pages
    ``level`` at once either way."""

    level: int | None
    levels: int
    who: list[str]
    at: datetime | None
    why: str


def _lookup(session: Session, config: OpsConfig, now: datetime) -> paging_rules.OnCall:
    found: dict[tuple[str, str], str | None] = {}

    def on_call(schedule: str, layer: str) -> str | None:
        if (schedule, layer) not in found:
            found[schedule, layer] = oncall_service.who_is_on_call(
                session, config=config, schedule=schedule, layer=layer, at=now
            )
        return found[schedule, layer]

    return on_call


def on_call_now(session: Session, incident: Incident, *, now: datetime) -> list[OnCallNow]:
    """Who is on call now for the incident's service: each schedule layer its escalation policy names
    (primary, secondary …), overrides and swaps applied, in the order the policy names them."""
    config = policy_service.current_config(session)
    policy = paging_rules.policy_for(config, incident.service)
    if policy is None:
        return []
    on_call = _lookup(session, config, now)
    out: list[OnCallNow] = []
    for target in policy.targets.values():
        schedule = config.schedule(target.schedule) if target.schedule else None
        if schedule is None or not schedule.layers:
            continue
        layer = target.layer or schedule.layers[0].name
        if all((o.schedule, o.layer) != (schedule.name, layer) for o in out):
            out.append(OnCallNow(schedule.name, layer, on_call(schedule.name, layer)))
    return out


def next_step(
    session: Session, incident: Incident, escalation: EscalationOut | None, *, now: datetime
) -> NextStep:
    """The escalation's next step and when, with its targets resolved to people as the engine would
    page them now (``paging.rules.resolve``, the on-call lookup with overrides applied)."""
    config = policy_service.current_config(session)
    if escalation is None:
        rule = config.severities.get(incident.severity)
        if not (rule and rule.paging):
            why = f"{incident.severity} does not page"
        elif not incident.service:
            why = "no escalation policy: the incident has no service"
        else:
            why = f"no escalation policy: service {incident.service} names none"
        return NextStep(None, 0, [], None, why)
    policy, _route, chain = paging_decider.chain_of(config, incident)
    if escalation.levels:  # the engine has looked at the chain: where it stands
        levels, level, targets = escalation.levels, escalation.next_level, list(escalation.next_targets)
    else:  # just opened (the engine looks within a second): the chain's first level is next
        levels, level, targets = len(chain), 1 if chain else None, list(chain[0].targets) if chain else []
    exhausted = level is None and bool(chain)
    if exhausted:  # Escalate now starts another round (paging.rules.manual_level)
        level, targets = 1, list(chain[0].targets)
    by = f" by @{escalation.acknowledged_by}" if escalation.acknowledged_by else ""
    why = {
        paging_rules.ACKNOWLEDGED: f"stopped: acknowledged{by}",
        paging_rules.RESOLVED: "stopped: resolved",
        paging_rules.STOPPED: f"stopped: {escalation.stop_reason or 'by hand'}",
    }.get(escalation.state, "")
    if not why and exhausted:
        why = f"every level paged ({levels}); Escalate now starts again from level 1"
    elif not why and level is None:
        why = "nobody to page"
    who: list[str] = []
    if level is not None:
        found = paging_rules.resolve(policy, config, targets, _lookup(session, config, now))
        who = [r.label for r in found.recipients] or [f"nobody ({'; '.join(found.notes)})"]
    return NextStep(level, levels, who, None if why else escalation.next_escalation_at, why)


def _http(href: Any) -> str | None:
    text = str(href or "")
    return text if text.startswith(("https://", "http://")) else None


def source_link(session: Session, incident: Incident) -> tuple[str, str] | None:
    """The source of the alert that opened the incident (its graph or rule: generatorURL), as
    (href, text); an http(s) link only, so an alert's payload can never put a ``javascript:`` URL
    on the page."""
    first = session.scalars(
        select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.first_seen_at, Alert.id).limit(1)
    ).first()
    if first is None:
        return None
    links = [
        (href, str(link.get("text") or "source"))
        for link in first.links or []
        if isinstance(link, dict) and (href := _http(link.get("href")))
    ]
    for wanted in SOURCE_LINKS:
        for href, text in links:
            if text == wanted:
                return href, text
    rest = [(href, text) for href, text in links if text not in NOT_A_SOURCE]
    return rest[0] if rest else None


@dataclass(frozen=True)
class Channel:
    """The command post's channel: its name (Slack's, after a -2 for a taken name), and a link that
    opens it when Slack is configured."""

    name: str
    href: str | None


def channel_of(session: Session, incident: Incident, *, slack_on: bool) -> Channel:
    if not slack_on:
        return Channel(incident.channel, None)
    row = session.scalars(select(SlackChannel).where(SlackChannel.incident_id == incident.id)).first()
    name = row.name if row is not None else incident.channel
    target = row.channel_id if row is not None and row.channel_id else name
    return Channel(name, SLACK_OPEN + quote(target, safe=""))


def offerable(session: Session, people: list[Person]) -> list[Person]:
    """Who may be offered a role: people who could accept it — not read-only (every login and token
    ``read``: ``security.service.may_answer_offers``, the rule ``roles.offer`` enforces) and no
    service account."""
    return [
        p
        for p in people
        if not is_service_account(p.handle) and security_service.may_answer_offers(session, person=p.handle)
    ]
