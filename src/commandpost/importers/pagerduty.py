"""``commandpost import pagerduty``: a PagerDuty account (REST API v2) as an ops folder.

Reads users (with contact methods and notification rules), teams and their members, schedules
(each in detail, with its overrides), escalation policies and services with their integrations —
from saved responses or live — and maps them (docs/migrate.md, "PagerDuty"). Schedules are
:mod:`.pagerduty_schedules`. Whatever has no commandpost equivalent is a report line, never dropped.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from commandpost.errors import NotFound
from commandpost.importers.fields import known_zone
from commandpost.importers.names import Namer, slug
from commandpost.importers.pagerduty_people import (
    ORG,
    UNASSIGNED,
    detail_of,
    items,
    minutes,
    named,
    read_people,
    read_teams,
    ref_id,
    text,
)
from commandpost.importers.pagerduty_render import compare, layer_order
from commandpost.importers.pagerduty_schedules import Unmappable, instant, map_schedule
from commandpost.importers.result import ImportResult, OldIntegration, Override, mask_key
from commandpost.importers.source import LiveAPI, Source, offset_pages

API_URL = "https://api.pagerduty.com"
PAGING = ("SEV1", "SEV2")
"""The severities that page (severities.yaml): PagerDuty's high urgency."""


def live(token: str, *, base_url: str | None = None, sleep: Callable[[float], None] = time.sleep) -> Source:
    """The live REST API, read with an API key (``Authorization: Token token=…``), 100 a page."""
    return LiveAPI(
        base_url=base_url or API_URL,
        headers={
            "Authorization": f"Token token={token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
        paginate=offset_pages(),
        first_params={"limit": "100"},
        sleep=sleep,
    )


def read(source: Source, *, now: datetime) -> ImportResult:
    """Everything the account has that commandpost can carry, and a report line for the rest."""
    result = ImportResult(vendor="pagerduty", org=ORG, timezone="UTC")
    people = read_people(source, result)
    zones = Counter(str(person["timezone"]) for person in result.people)
    result.timezone = zones.most_common(1)[0][0] if zones else "UTC"  # business hours' clock: review it
    teams = read_teams(source, result, people)
    schedules = _schedules(source, result, people, now)
    policies = _policies(source, result, people, schedules)
    _services(source, result, teams, policies)
    return result


# ---------------------------------------------------------------- schedules and policies


def _schedules(
    source: Source, result: ImportResult, people: Namer, now: datetime
) -> dict[str, dict[str, str]]:
    """Each schedule id → {schedule, layer}: what a policy's ``schedule_reference`` pages."""
    names = Namer("schedule")
    targets: dict[str, dict[str, str]] = {}
    window = {
        "since": now.isoformat(),
        "until": (now + timedelta(days=14)).isoformat(),
    }
    for listed in items(source, "schedules", "schedules"):
        if (found := named(listed, "schedule", names, result)) is None:
            continue
        schedule_id, name, stem = found
        detail = detail_of(source, f"schedules/{schedule_id}", "schedule", window)
        if known_zone(str(detail.get("time_zone"))) is None:
            result.skip(
                "schedule", schedule_id, name, f"time zone {text(detail.get('time_zone'), 60)!r} unknown"
            )
            continue
        ordered, order_note = layer_order(detail, now)
        mapped = map_schedule(
            detail, ordered=ordered, order_note=order_note, stem=stem, people=people.get, now=now
        )
        rendered = compare(detail, ordered, now)
        if rendered.differing:
            result.skip(
                "schedule",
                schedule_id,
                name,
                f"PagerDuty's rendered final schedule differs from its layers at {rendered.differing} of "
                f"{rendered.compared} instants ({rendered.first}): check the imported layers by hand",
            )
        for layer_id, layer_name, reason in mapped.skipped:
            result.skip("layer", layer_id, f"{name} / {text(layer_name)}", reason)
        if mapped.body is None or mapped.target_layer is None:
            result.skip("schedule", schedule_id, name, "no layer could be imported (see the layer lines)")
            continue
        result.schedules[stem] = mapped.body
        result.overrides.extend(mapped.overrides)
        result.source_ids.setdefault("schedule", {})[schedule_id] = stem
        targets[schedule_id] = {"schedule": stem, "layer": mapped.target_layer}
        _overrides(source, result, people, schedule_id, stem, mapped.target_layer, now)
    return targets


def _overrides(
    source: Source,
    result: ImportResult,
    people: Namer,
    schedule_id: str,
    stem: str,
    layer: str,
    now: datetime,
) -> None:
    """Overrides not over yet, as runtime overrides of the layer escalation pages (the final stack)."""
    params = {"since": now.isoformat(), "until": (now + timedelta(days=90)).isoformat()}
    try:
        found = list(items(source, f"schedules/{schedule_id}/overrides", "overrides", params))
    except NotFound:
        result.skip("override", schedule_id, stem, "overrides not saved (schedules/ID/overrides.json)")
        return
    for item in found:
        override_id = ref_id(item)
        try:
            start, end = instant(item.get("start"), "start"), instant(item.get("end"), "end")
        except Unmappable as exc:
            result.skip("override", override_id, stem, str(exc))
            continue
        handle = people.get(ref_id(item.get("user")))
        if handle is None:
            result.skip("override", override_id, stem, "its user was not imported")
        elif end > now and end > start:
            result.overrides.append(
                Override(stem, layer, handle, start, end, f"PagerDuty override {override_id}")
            )


def _policies(
    source: Source, result: ImportResult, people: Namer, schedules: dict[str, dict[str, str]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each policy id → (name, its file without ``service``): services decide the files."""
    names = Namer("policy")
    policies: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in items(source, "escalation_policies", "escalation_policies", {"include[]": ["targets"]}):
        if (found := named(policy, "escalation_policy", names, result)) is None:
            continue
        policy_id, name, stem = found
        targets: dict[str, dict[str, str]] = {}
        levels: list[dict[str, Any]] = []
        waited = 0
        rules = [r for r in policy.get("escalation_rules") or [] if isinstance(r, dict)]
        for n, rule in enumerate(rules, start=1):
            names_here = []
            for target in rule.get("targets") or []:
                kind, target_id = (
                    str(target.get("type", "")) if isinstance(target, dict) else "",
                    ref_id(target),
                )
                if kind in ("user_reference", "user") and people.get(target_id):
                    handle = str(people.get(target_id))
                    targets[handle] = {"person": handle}
                    names_here.append(handle)
                elif (
                    kind in ("schedule_reference", "schedule", "schedule_v3_reference")
                    and target_id in schedules
                ):
                    label = f"oncall-{schedules[target_id]['schedule']}"
                    targets[label] = dict(schedules[target_id])
                    names_here.append(label)
                else:
                    result.skip(
                        "escalation_target", target_id, f"{name} rule {n}", f"{kind or 'target'} not imported"
                    )
            if names_here:
                level: dict[str, Any] = {"targets": list(dict.fromkeys(names_here))}
                if levels:
                    level["after"] = f"{waited}m"
                levels.append(level)
                waited = 0
            else:
                result.skip(
                    "escalation_rule",
                    ref_id(rule),
                    f"{name} rule {n}",
                    "no target could be imported; its wait is added to the next level's",
                )
            waited += minutes(rule.get("escalation_delay_in_minutes")) or 0
        if not levels:
            result.skip("escalation_policy", policy_id, name, "no rule with an imported target")
            continue
        route: dict[str, Any] = {"levels": levels}
        loops = minutes(policy.get("num_loops")) or 0
        if loops:
            route["repeat"] = min(loops, 10)
            if loops > 10:
                result.skip(
                    "escalation_policy", policy_id, name, f"num_loops {loops}: commandpost repeats 10 times"
                )
            first = levels[0].get("after")
            repeat_wait = levels[-1].get("after", "5m") if len(levels) > 1 else "5m"
            if first is None and repeat_wait != f"{waited}m":
                result.skip(
                    "escalation_policy",
                    policy_id,
                    name,
                    f"PagerDuty waits {waited} min after the last rule before looping; commandpost waits "
                    f"{repeat_wait} (the last level's wait) before a repeat",
                )
        if policy.get("escalation_rule_assignment_strategy") not in (None, "assign_to_everyone"):
            result.skip(
                "escalation_policy", policy_id, name, "round robin assignment: commandpost pages every target"
            )
        body = {"severity_routing": {sev: copy.deepcopy(route) for sev in PAGING}, "targets": targets}
        policies[policy_id] = (stem, body)
    return policies


# ---------------------------------------------------------------- services


def _integration_source(integration: dict[str, Any]) -> tuple[str | None, str]:
    """commandpost's source kind for a PagerDuty integration (None: none), and a note for the sender."""
    kind = str(integration.get("type", ""))
    vendor = text(
        (integration.get("vendor") or {}).get("summary")
        if isinstance(integration.get("vendor"), dict)
        else "",
        60,
    ).lower()
    if "prometheus" in vendor or "alertmanager" in vendor:
        return "alertmanager", "point Alertmanager's webhook_configs at the new intake URL"
    if "grafana" in vendor:
        return "grafana", "add a webhook contact point with the new intake URL"
    if kind == "events_api_v2_inbound_integration":
        return "pagerduty", "Events API v2: only the URL (/v2/enqueue) and routing_key change"
    if kind == "generic_events_api_inbound_integration":
        return "pagerduty", "Events API v1 sender: commandpost takes Events API v2; switch the sender to v2"
    if kind == "aws_cloudwatch_inbound_integration":
        return "sns", "subscribe the SNS topic to the new intake URL; list its TopicArn in topic_arns"
    if kind == "generic_email_inbound_integration":
        return None, "commandpost has no e-mail intake"
    return "generic", f"{kind or 'unknown type'}: send commandpost's generic JSON to the new intake URL"


def _services(
    source: Source, result: ImportResult, teams: Namer, policies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    names = Namer("service")
    integration_names = Namer("integration")
    used: dict[str, int] = {}
    include = {"include[]": ["integrations"]}
    for service in items(source, "services", "services", include):
        if (found := named(service, "service", names, result)) is None:
            continue
        service_id, name, stem = found
        owner = next((teams.get(ref_id(t)) for t in service.get("teams") or [] if teams.get(ref_id(t))), None)
        if owner is None:
            owner = UNASSIGNED
            if not any(t["name"] == UNASSIGNED for t in result.teams):
                result.teams.append({"name": UNASSIGNED, "members": []})
            result.skip(
                "service", service_id, name, f"no team in PagerDuty: owner set to team '{UNASSIGNED}'"
            )
        body: dict[str, Any] = {"name": stem, "owner": owner}
        description = text(service.get("description"), 500)
        if description:
            body["description"] = description
        policy_id = ref_id(service.get("escalation_policy"))
        if policy_id in policies:
            policy_stem, policy = policies[policy_id]
            used[policy_id] = used.get(policy_id, 0) + 1
            file = policy_stem if used[policy_id] == 1 else f"{policy_stem}-{stem}"
            result.escalation[file] = {"service": stem, **copy.deepcopy(policy)}
            body["escalation_policy"] = file
        else:
            result.skip(
                "service", service_id, name, "its escalation policy was not imported: it pages nobody"
            )
        urgency = service.get("incident_urgency_rule")
        if isinstance(urgency, dict) and urgency.get("type") != "constant":
            result.skip(
                "service",
                service_id,
                name,
                "urgency by support hours: commandpost decides paging by "
                "severity (SEV1/SEV2 page at any hour)",
            )
        elif isinstance(urgency, dict) and urgency.get("urgency") == "low":
            result.skip(
                "service",
                service_id,
                name,
                "low urgency (PagerDuty never wakes anyone for it): its alerts stay SEV3 (no page) "
                "unless alert rules say otherwise",
            )
        integrations = []
        for integration in service.get("integrations") or []:
            mapped = _integration(source, result, integration, service_id, stem, integration_names)
            if mapped:
                integrations.append(mapped)
        if integrations:
            body["integrations"] = integrations
        result.services[stem] = body
        result.source_ids.setdefault("service", {})[service_id] = stem
    for policy_id, (policy_stem, _body) in policies.items():
        if policy_id not in used:
            result.skip(
                "escalation_policy",
                policy_id,
                policy_stem,
                "no imported service uses it (a commandpost policy belongs to one service)",
            )
        elif used[policy_id] > 1:
            result.skip(
                "escalation_policy",
                policy_id,
                policy_stem,
                f"shared by {used[policy_id]} services: one file per service",
            )


def _integration(
    source: Source, result: ImportResult, integration: Any, service_id: str, stem: str, names: Namer
) -> dict[str, str] | None:
    integration_id = ref_id(integration)
    if not isinstance(integration, dict):
        return None
    reference = str(integration.get("type", "")).endswith("_reference")
    if reference or ("integration_key" not in integration and "email" not in str(integration.get("type"))):
        # the key is certain only in the integration's own endpoint (services/ID/integrations/IID)
        try:
            integration = detail_of(
                source, f"services/{service_id}/integrations/{integration_id}", "integration"
            )
        except NotFound:
            if reference:
                result.skip(
                    "integration",
                    integration_id,
                    stem,
                    "a reference only: save services with include[]=integrations, or its own endpoint",
                )
                return None
    kind, label = text(integration.get("type"), 80), text(integration.get("name"), 80) or integration_id
    source_kind, note = _integration_source(integration)
    if source_kind is None:
        result.skip("integration", integration_id, f"{stem} / {label}", note)
        return None
    name = names.name(integration_id, f"{stem}-{slug(label, fallback='intake', max_length=30)}")
    key = text(integration.get("integration_key"), 100)
    result.integrations.append(
        OldIntegration(stem, name, source_kind, kind, mask_key(key) if key else "none", note)
    )
    return {"name": name, "source": source_kind}
