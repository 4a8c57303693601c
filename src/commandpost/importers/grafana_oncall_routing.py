"""Grafana OnCall escalation chains and integrations as commandpost policies and services.

An integration (an inbound URL alerts are POSTed to) routes its alerts to an escalation chain; in
commandpost a service has one escalation policy, written for it. So each integration becomes a
service, and the chain of its default route that service's policy (``levels:`` for the paging
severities, SEV1 and SEV2): ``wait`` steps are the ``after`` of the next level, notify steps in a
row one level, ``repeat_escalation`` the policy's ``repeat`` (Grafana repeats at most 5 times).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from commandpost.importers.grafana_oncall_base import Context, count, ids, name_of, position, text
from commandpost.importers.result import OldIntegration, mask_key
from commandpost.policy.durations import format_duration

SOURCES = {
    "alertmanager": "alertmanager",
    "legacy_alertmanager": "alertmanager",
    "grafana": "grafana",
    "grafana_alerting": "grafana",
    "legacy_grafana_alerting": "grafana",
    "webhook": "generic",
    "formatted_webhook": "generic",
}
"""Integration types whose senders commandpost takes as they are (a new URL is all they need)."""
NOT_SENDERS = {
    "direct_paging": "paging people by hand from the OnCall UI: use commandpost page",
    "manual": "paging people by hand from the OnCall UI: use commandpost page",
    "maintenance": "OnCall's own maintenance mode: use commandpost's maintenance windows",
    "inbound_email": "alerts by email: commandpost takes alerts over HTTP only",
}
GRAFANA_REPEATS = 5
"""``EscalationPolicy.MAX_TIMES_REPEAT``: a ``repeat_escalation`` step repeats the chain at most 5 times."""
PAGING = ("SEV1", "SEV2")
DAY = 86400
GENERAL = "general"
"""The owner team of integrations in Grafana's "No team" (General)."""


def map_routing(
    ctx: Context,
    chains: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    integrations: list[dict[str, Any]],
    routes: list[dict[str, Any]] | None,
) -> None:
    """Services from integrations, each with its default route's chain as its policy."""
    by_chain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for step in steps:
        chain_id = step.get("escalation_chain_id")
        if isinstance(chain_id, str):
            by_chain[chain_id].append(step)
    named = {c["id"]: c for c in chains}
    used: set[str] = set()
    built: dict[str, dict[str, Any] | None] = {}
    other_routes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for route in routes or ():
        if isinstance(route.get("integration_id"), str) and not route.get("is_the_last_route"):
            other_routes[route["integration_id"]].append(route)
    for integration in integrations:
        chain_id = _service(ctx, integration, named, by_chain, other_routes.get(integration["id"], []), built)
        if chain_id:
            used.add(chain_id)
    for chain_id, chain in named.items():
        if chain_id not in used:
            ctx.result.skip(
                "escalation_chain", chain_id, name_of(chain), "no integration's default route uses it"
            )


def _service(
    ctx: Context,
    integration: dict[str, Any],
    chains: dict[str, dict[str, Any]],
    steps: dict[str, list[dict[str, Any]]],
    routes: list[dict[str, Any]],
    built: dict[str, dict[str, Any] | None],
) -> str | None:
    iid, name, kind = integration["id"], name_of(integration), text(integration.get("type"), "?")
    if kind in NOT_SENDERS:
        ctx.result.skip("integration", iid, name, f"type {kind}: {NOT_SENDERS[kind]}")
        return None
    slug = ctx.services.name(iid, name)
    ctx.note("integration", iid, slug)
    source = SOURCES.get(kind, "generic")
    service: dict[str, Any] = {
        "name": slug,
        "owner": _owner(ctx, integration.get("team_id")),
        "description": f"Imported from Grafana OnCall integration {name!r} ({kind}, {iid}).",
        "integrations": [{"name": f"{slug}-{source}", "source": source}],
    }
    note = (
        "" if kind in SOURCES else f"its {kind} payload is not commandpost's generic JSON: adapt the sender"
    )
    ctx.result.integrations.append(
        OldIntegration(slug, f"{slug}-{source}", source, kind, _old_key(integration.get("link")), note)
    )
    for route in routes:
        chain = chains.get(text(route.get("escalation_chain_id")))
        ctx.result.skip(
            "route",
            text(route.get("id"), "?"),
            f"{name} #{route.get('position', '?')}",
            f"routes alerts matching {text(route.get('routing_regex'), '?')!r} to chain "
            f"{name_of(chain) if chain else 'none'!r}: a commandpost service has one policy; split it "
            "into another service or match it with alert_rules",
        )
    default = integration.get("default_route")
    chain_id = text(default.get("escalation_chain_id")) if isinstance(default, dict) else ""
    chain = chains.get(chain_id)
    if chain is None:
        why = (
            f"its chain {chain_id} was not read" if chain_id else "its default route has no escalation chain"
        )
        ctx.result.skip("service", iid, name, f"{why}: the service pages nobody")
    else:
        if chain_id not in built:  # once per chain: its report lines once, however many services use it
            built[chain_id] = _policy(ctx, chain, steps.get(chain_id, []))
        policy = built[chain_id]
        if policy is None:
            ctx.result.skip(
                "service", iid, name, f"chain {name_of(chain)!r} pages nobody commandpost can page"
            )
        else:
            ctx.result.escalation[slug] = {"name": slug, "service": slug, **copy.deepcopy(policy)}
            service["escalation_policy"] = slug
            earlier = ctx.result.source_ids.get("escalation_chain", {}).get(chain_id)
            ctx.note("escalation_chain", chain_id, f"{earlier}, {slug}" if earlier else slug)
    ctx.result.services[slug] = service
    return chain_id or None


def _owner(ctx: Context, team_id: Any) -> str:
    team = ctx.team_names.get(team_id) if isinstance(team_id, str) else None
    if team is not None:
        return team
    if not any(t["name"] == GENERAL for t in ctx.result.teams):
        ctx.result.teams.append({"name": GENERAL, "members": []})
    return GENERAL


def _old_key(link: Any) -> str:
    """The secret of an inbound URL (its last path segment), masked."""
    parts = [p for p in urlsplit(link).path.split("/") if p] if isinstance(link, str) else []
    return mask_key(parts[-1]) if parts else "…"


def _policy(ctx: Context, chain: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The chain's steps as ``levels``; a report line for every step with no commandpost equivalent."""
    cid, cname = chain["id"], name_of(chain)
    levels: list[dict[str, Any]] = []
    targets: dict[str, dict[str, Any]] = {}
    current: list[str] = []
    wait = 0
    repeat = 0

    def skip(step: dict[str, Any], reason: str) -> None:
        ctx.result.skip(
            "escalation_step", text(step.get("id"), "?"), f"{cname} #{step.get('position')}", reason
        )

    def close() -> None:
        nonlocal current, wait
        if current:
            level: dict[str, Any] = {"targets": list(dict.fromkeys(current))}
            if wait:
                level["after"] = format_duration(timedelta(seconds=wait))
            levels.append(level)
            current, wait = [], 0

    ordered = sorted(steps, key=position)
    for i, step in enumerate(ordered):
        kind = step.get("type")
        if kind == "wait":
            seconds = count(step.get("duration"), DAY)
            if seconds is None:
                skip(step, "a wait with no duration in seconds (60 to 86400)")
                continue
            close()
            wait += seconds
        elif kind in ("notify_persons", "notify_on_call_from_schedule", "notify_team_members"):
            found = _targets(ctx, step, kind)
            if isinstance(found, str):
                skip(step, found)
                continue
            if step.get("important"):
                skip(
                    step,
                    "important: commandpost pages with each person's notification_rules.high "
                    "(not a ladder per step)",
                )
            for target, spec in found.items():
                targets[target] = spec
                current.append(target)
        elif kind == "repeat_escalation":
            repeat = GRAFANA_REPEATS
            for later in ordered[i + 1 :]:
                skip(later, "after a repeat_escalation step: never reached")
            break
        else:
            skip(step, _why(kind))
    close()
    if wait and repeat:
        ctx.result.skip(
            "escalation_chain",
            cid,
            cname,
            f"waits {format_duration(timedelta(seconds=wait))} before repeating; commandpost repeats after "
            "the first level's 'after' (or the last level's)",
        )
    if not levels:
        return None
    route = {"levels": levels, "repeat": repeat} if repeat else {"levels": levels}
    return {"severity_routing": {sev: copy.deepcopy(route) for sev in PAGING}, "targets": targets}


def _targets(ctx: Context, step: dict[str, Any], kind: str) -> dict[str, dict[str, Any]] | str:
    """The commandpost targets of a notify step, or why it has none."""
    if kind == "notify_on_call_from_schedule":
        schedule_id = text(step.get("notify_on_call_from_schedule"))
        name = ctx.schedules.get(schedule_id)
        if name is None or schedule_id not in ctx.final_layers:
            return (
                f"pages schedule {schedule_id or '(none)'}, which was not imported (see the schedule lines)"
            )
        layers = ctx.final_layers[schedule_id]
        if len(layers) == 1:
            return {f"{name}-oncall": {"schedule": name, "layer": layers[0]}}
        return {f"{name}-{layer}-oncall": {"schedule": name, "layer": layer} for layer in layers}
    if kind == "notify_team_members":
        team = ctx.team_names.get(text(step.get("team_to_notify")))
        return {team: {"team": team}} if team else "pages a team that was not imported"
    people: dict[str, dict[str, Any]] = {}
    for user in ids(step.get("persons_to_notify")):
        handle = ctx.people.get(user)
        if handle is None:
            return f"pages user {user}, who is not among the users read"
        people[handle] = {"person": handle}
    return people or "pages nobody (no persons_to_notify)"


def _why(kind: Any) -> str:
    return {
        "notify_person_next_each_time": "round-robin, one person per alert: no commandpost equivalent; page "
        "a schedule instead",
        "notify_user_group": "pages a Slack user group: commandpost pages people, schedules and teams; use "
        "a team",
        "notify_whole_channel": "posts to the route's Slack channel: use a {channel: TEAM} target",
        "trigger_webhook": "calls an outgoing webhook: no commandpost equivalent in a policy",
        "notify_if_time_from_to": "continues only inside a time window: commandpost policies have no time "
        "condition; use severities or a restricted layer",
        "notify_if_num_alerts_in_window": "continues only after N alerts in a window: no commandpost "
        "equivalent",
        "resolve": "resolves the alert group: commandpost leaves resolving to people",
        "declare_incident": "declares an incident: commandpost opens incidents from paging alert rules",
    }.get(kind if isinstance(kind, str) else "", f"unknown step type {text(kind, '(none)')!r}")
