"""Opsgenie escalations, services, integrations and heartbeats → services/ and escalation/ files.

Opsgenie routes an alert to a **team**; the team's routing rules pick an escalation (or schedule).
commandpost routes per **service**, one escalation policy each. So: every Opsgenie service (Service
API, ``/v1/services``) becomes a service owned by its team, and a team that has none but owns an
escalation, an integration or a heartbeat gets one service named after it. A service's policy is
its team's default routing rule's escalation (or schedule) when ``teams/ID/routing-rules`` was read,
else the team's first escalation by name (docs/migrate.md says which, and the report says so per service).

Escalation rules become ``levels``: Opsgenie measures each rule's delay from the alert's creation,
commandpost each level's ``after`` from the previous level, so rules with the same delay share a
level and ``after`` is the difference. A rule on a schedule pages every layer of it (all rotations
are on call at once). ``repeat.count`` becomes ``repeat`` (at most 10).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import timedelta
from typing import Any

from commandpost.importers.fields import as_int
from commandpost.importers.opsgenie_base import (
    Context,
    amount,
    as_dict,
    as_list,
    as_str,
    duration_text,
    items,
    optional_detail,
    optional_items,
)
from commandpost.importers.result import OldIntegration, mask_key
from commandpost.importers.source import Source

SOURCES = {
    "api": "generic",
    "prometheus": "alertmanager",
    "alertmanager": "alertmanager",
    "grafana": "grafana",
}
"""Opsgenie integration type (lower-cased) → commandpost integration source; any other type → generic."""
PAGING = ("SEV1", "SEV2")


def map_routing(source: Source, ctx: Context) -> None:
    escalations = {
        as_str(e.get("id")): e
        for e in items(source, "escalations")
        if ctx.first("escalation_policy", as_str(e.get("id")), as_str(e.get("name")))
    }
    services = _services(source, ctx)
    integrations = optional_items(source, "integrations") or []
    heartbeats = optional_items(source, "heartbeats") or []
    owners = {as_str(as_dict(e.get("ownerTeam")).get("id")) for e in escalations.values()}
    owners |= {as_str(i.get("teamId")) for i in integrations}
    owners |= {as_str(as_dict(h.get("ownerTeam")).get("id")) for h in heartbeats}
    for team_id in sorted(owners - set(services) - {""}):
        team = ctx.teams.get(team_id)
        if team is not None:
            services[team_id].append(_new_service(ctx, team_id, team, team))
            ctx.result.skip(
                "team",
                team_id,
                team,
                f"no Opsgenie service: services/{team}.yaml made for its alerts and keys",
            )
    used: set[str] = set()
    policies: dict[str, dict[str, Any] | None] = {}
    for team_id, team_services in services.items():
        chosen, why = _team_escalation(source, ctx, team_id, escalations)
        if chosen is None:
            continue
        if chosen not in policies:
            policies[chosen] = _policy(ctx, escalations[chosen])
        policy = policies[chosen]
        if policy is None:
            continue
        for service in team_services:
            name = service["name"]
            ctx.result.escalation[name] = {"service": name, **copy.deepcopy(policy)}
            service["escalation_policy"] = name
            used.add(chosen)
            ctx.note("escalation_policy", chosen, name)
            ctx.result.skip("service", team_id, name, f"escalation: {why}")
    for esc_id, escalation in escalations.items():
        if esc_id not in used:
            why = "no service routes to it (commandpost has one policy per service): copy its levels by hand"
            ctx.result.skip("escalation_policy", esc_id, as_str(escalation.get("name")), why)
    _integrations(source, ctx, services, integrations)
    _heartbeats(ctx, services, heartbeats)


def _new_service(ctx: Context, source_id: str, label: str, team: str) -> dict[str, Any]:
    name = ctx.services.name(source_id, label)
    body: dict[str, Any] = {"name": name, "owner": team, "default_severity": "SEV3"}
    ctx.result.services[name] = body
    ctx.note("service", source_id, name)
    return body


def _services(source: Source, ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """Team id → the services it owns (the Service API is on Standard and Enterprise plans only)."""
    by_team: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found = optional_items(source, "services")
    if found is None:
        ctx.result.skip(
            "service", "-", "/v1/services", "not read (not saved, or not on this plan): services per team"
        )
    for item in found or []:
        service_id, label, team_id = (
            as_str(item.get("id")),
            as_str(item.get("name")),
            as_str(item.get("teamId")),
        )
        team = ctx.teams.get(team_id)
        if not ctx.first("service", service_id, label):
            continue
        if team is None:
            ctx.result.skip("service", service_id or "?", label, f"owner team {team_id!r} not imported")
            continue
        body = _new_service(ctx, service_id, label, team)
        if description := as_str(item.get("description")):
            body["description"] = description
        by_team[team_id].append(body)
    return by_team


def _team_escalation(
    source: Source, ctx: Context, team_id: str, escalations: dict[str, dict[str, Any]]
) -> tuple[str | None, str]:
    """The escalation a team's alerts go to, and how it was chosen (for the report). A default rule
    that notifies a schedule directly is an escalation of one rule: that schedule, at once."""
    rules = optional_items(source, f"teams/{team_id}/routing-rules")
    for rule in rules or []:
        notify = as_dict(rule.get("notify"))
        if rule.get("isDefault") is not True:
            continue
        chosen, kind, label = as_str(notify.get("id")), notify.get("type"), as_str(notify.get("name"))
        if kind == "escalation" and chosen in escalations:
            return chosen, f"the team's default routing rule → {label}"
        if kind == "schedule" and ctx.schedules.get(chosen) is not None:
            key = f"routing-rule:{as_str(rule.get('id'))}:{chosen}"
            escalations[key] = {
                "id": key,
                "name": f"{as_str(rule.get('name'))} → {label}",
                "rules": [{"delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": notify}],
            }
            return key, f"the team's default routing rule → schedule {label} (every rotation at once)"
    owned = sorted(
        (as_str(e.get("name")), esc_id)
        for esc_id, e in escalations.items()
        if as_str(as_dict(e.get("ownerTeam")).get("id")) == team_id
    )
    if not owned:
        return None, "none"
    how = "routing rules not read" if rules is None else "the default routing rule names no escalation"
    return owned[0][1], f"{how}: the team's first escalation by name, {owned[0][0]}"


def _policy(ctx: Context, escalation: dict[str, Any]) -> dict[str, Any] | None:
    """An escalation file's routing and targets from one Opsgenie escalation; None when no rule maps."""
    esc_id, label = as_str(escalation.get("id")), as_str(escalation.get("name"))
    targets: dict[str, dict[str, Any]] = {}
    by_delay: dict[timedelta, list[str]] = defaultdict(list)
    for rule in as_list(escalation.get("rules")):
        rule = as_dict(rule)
        delay = amount(rule.get("delay"))
        names = _rule_targets(ctx, rule, esc_id, label, targets)
        if delay is None or not names:
            if delay is None:
                ctx.result.skip("escalation_rule", esc_id, label, "a rule without a readable delay: left out")
            continue
        if rule.get("condition") == "if-not-closed":
            why = (
                "'if-not-closed' fires here only while nobody has acknowledged (commandpost stops at the ack)"
            )
            ctx.result.skip("escalation_rule", esc_id, label, why)
        by_delay[delay] += [n for n in names if n not in by_delay[delay]]
    if not by_delay:
        ctx.result.skip("escalation_policy", esc_id, label, "no rule could be mapped")
        return None
    levels: list[dict[str, Any]] = []
    previous = timedelta(0)
    for delay in sorted(by_delay):
        level: dict[str, Any] = {"targets": by_delay[delay]}
        if delay - previous > timedelta(0):
            level["after"] = duration_text(delay - previous)
        levels.append(level)
        previous = delay
    route: dict[str, Any] = {"levels": levels}
    repeat = as_dict(escalation.get("repeat"))
    count = as_int(repeat.get("count"))
    if count > 0:
        route["repeat"] = min(count, 10)
        if count > 10:
            ctx.result.skip(
                "escalation_repeat", esc_id, label, f"repeats {count} times: commandpost repeats at most 10"
            )
        first = levels[0].get("after") or levels[-1].get("after") or "5m"
        wait = duration_text(timedelta(minutes=as_int(repeat.get("waitInterval"))))
        if wait != first:
            why = (
                f"repeats after {wait} in Opsgenie; commandpost starts over after {first} (its level timing)"
            )
            ctx.result.skip("escalation_repeat", esc_id, label, why)
        for flag in ("resetRecipientStates", "closeAlertAfterAll"):
            if repeat.get(flag) is True:
                ctx.result.skip("escalation_repeat", esc_id, label, f"{flag} has no equivalent")
    return {"severity_routing": {sev: copy.deepcopy(route) for sev in PAGING}, "targets": targets}


def _rule_targets(
    ctx: Context, rule: dict[str, Any], esc_id: str, label: str, targets: dict[str, dict[str, Any]]
) -> list[str]:
    recipient = as_dict(rule.get("recipient"))
    kind, notify = as_str(recipient.get("type")), as_str(rule.get("notifyType")) or "default"
    who = as_str(recipient.get("name")) or as_str(recipient.get("username")) or as_str(recipient.get("id"))
    rid = as_str(recipient.get("id"))

    def skip(why: str) -> None:
        ctx.result.skip("escalation_rule", esc_id, f"{label}: {who}", why)

    if kind == "schedule":
        schedule, layers = ctx.schedules.get(rid), ctx.layers.get(rid, {})
        if schedule is None:
            skip("the schedule was not imported")
            return []
        if notify in ("next", "previous"):
            skip(f"notifyType {notify} (the {notify} person in the rotation) has no equivalent: left out")
            return []
        return [
            _target(targets, f"{schedule}-{layer}", {"schedule": schedule, "layer": layer})
            for layer in layers.values()
        ]
    if kind == "user":
        person = ctx.person(recipient)
        if person is None:
            skip("not an imported user")
            return []
        return [_target(targets, person, {"person": person})]
    if kind == "team":
        team = ctx.teams.get(rid)
        if team is None:
            skip("the team was not imported")
            return []
        if notify in ("users", "all"):
            return [_target(targets, p, {"person": p}) for p in ctx.team_members.get(rid, [])]
        if notify != "admins":
            skip(f"notifyType {notify} on a team pages the team's lead (or every member) and channel here")
        return [_target(targets, f"team-{team}", {"team": team})]
    skip(f"recipient type {kind!r} unknown")
    return []


def _target(targets: dict[str, dict[str, Any]], base: str, value: dict[str, Any]) -> str:
    name, n = base, 1
    while name in targets and targets[name] != value:
        n += 1
        name = f"{base}-{n}"
    targets[name] = value
    return name


def _integrations(
    source: Source, ctx: Context, services: dict[str, list[dict[str, Any]]], found: list[dict[str, Any]]
) -> None:
    for item in found:
        integ_id, label, vendor_type = (
            as_str(item.get("id")),
            as_str(item.get("name")),
            as_str(item.get("type")),
        )
        team_services = services.get(as_str(item.get("teamId")), [])
        if not ctx.first("integration", integ_id, label):
            continue
        if not team_services:
            ctx.result.skip(
                "integration", integ_id or "?", label, "no owner team with a service: not imported"
            )
            continue
        if item.get("enabled") is False:
            ctx.result.skip("integration", integ_id, label, "disabled in Opsgenie: not imported")
            continue
        service = team_services[0]
        kind = SOURCES.get(vendor_type.lower(), "generic")
        name = ctx.keys.name(f"integration:{integ_id}", f"{service['name']}-{label or vendor_type}")
        service.setdefault("integrations", []).append({"name": name, "source": kind})
        detail = optional_detail(source, f"integrations/{integ_id}") or {}
        key = as_str(detail.get("apiKey"))
        note = (
            ""
            if vendor_type.lower() in SOURCES
            else f"Opsgenie type {vendor_type}: send its alerts as generic JSON"
        )
        if len(team_services) > 1:
            note = f"{note}; the team has {len(team_services)} services: moved to the first".lstrip("; ")
        ctx.result.integrations.append(
            OldIntegration(service["name"], name, kind, vendor_type, mask_key(key) if key else "…", note)
        )
        ctx.note("integration", integ_id, name)


def _heartbeats(ctx: Context, services: dict[str, list[dict[str, Any]]], found: list[dict[str, Any]]) -> None:
    for beat in found:
        label = as_str(beat.get("name"))
        team_services = services.get(as_str(as_dict(beat.get("ownerTeam")).get("id")), [])
        interval = amount(beat, "intervalUnit", "interval")
        if not team_services:
            ctx.result.skip("heartbeat", label, label, "no owner team with a service: not imported")
        elif beat.get("enabled") is False:
            ctx.result.skip("heartbeat", label, label, "disabled in Opsgenie: not imported")
        elif interval is None or not timedelta(seconds=30) <= interval <= timedelta(days=31):
            ctx.result.skip("heartbeat", label, label, "interval unreadable or outside 30s–31d")
        else:
            name = ctx.keys.name(f"heartbeat:{label}", label)
            team_services[0].setdefault("heartbeats", []).append(
                {"name": name, "interval": duration_text(interval)}
            )
            if priority := as_str(beat.get("alertPriority")):
                why = f"alertPriority {priority}: a missed beat raises the service's default severity"
                ctx.result.skip("heartbeat", label, label, why)
