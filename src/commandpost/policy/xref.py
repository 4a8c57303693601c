"""Cross-references between ops files: every name used is defined, once, where it is expected.

A file can be valid on its own and still point at nothing — a team member nobody declared,
a policy target with no meaning, a paging alert without a runbook (the guide's iron rule,
§4). This module checks the models that validated, and stays silent about names whose
defining file did not validate (that file already has its error: one defect, one error).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from commandpost.policy import hooks, reach
from commandpost.policy.findings import Finding, Source
from commandpost.policy.opsfiles import WEEKDAYS, AlertRule, EscalationPolicy, Heartbeat, Schedule, Service

if TYPE_CHECKING:
    from commandpost.policy.loader import Collected


@dataclass
class Report:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def error(self, source: Source, keys: tuple[Any, ...], message: str) -> None:
        self.errors.append(source.finding(keys, message))

    def warn(self, source: Source, keys: tuple[Any, ...], message: str) -> None:
        self.warnings.append(source.finding(keys, message))


def listed(names: Iterable[str]) -> str:
    listed = sorted(set(names))
    return ", ".join(listed) if listed else "none defined"


def check(got: Collected) -> Report:
    """Every cross-reference of the collected models, as errors and warnings."""
    report = Report()
    ctx = Names(got)
    _check_people(got, ctx, report)
    _check_services(got, ctx, report)
    _check_policies(got, ctx, report)
    _check_schedules(got, ctx, report)
    _check_runbooks(got, ctx, report)
    reach.check_reach(got, report)
    return report


class Names:
    """The names each file defines, and whether an unknown name can be trusted to be an error."""

    def __init__(self, got: Collected) -> None:
        self.people_known = got.people is not None
        self.people: set[str] = {p.handle for p in got.people[0].people} if got.people else set()
        self.teams = {t.name: t for t in got.people[0].teams} if got.people else {}
        self.severities = got.severities[0].severities if got.severities else None
        self.services: dict[str, Service] = {}
        self.service_slos: dict[str, set[str]] = {}
        for service, _src in got.services:
            self.services.setdefault(service.name, service)  # a duplicate is reported; the first one counts
            # ...but which copy is meant is unknown, so an SLO of any copy is accepted (no cascade)
            self.service_slos.setdefault(service.name, set()).update(slo.name for slo in service.slos)
        self.policies: dict[str, EscalationPolicy] = {}
        for policy, _src in got.policies:
            self.policies.setdefault(policy.name, policy)
        self.schedules: dict[str, Schedule] = {}
        for schedule, _src in got.schedules:
            self.schedules.setdefault(schedule.name, schedule)
        self.runbooks = {r.slug for r, _ in got.runbooks}
        self.slo_runbooks: dict[tuple[str | None, str], str] = {}
        for runbook, _src in sorted(got.runbooks, key=lambda item: item[0].slug):
            front = runbook.front_matter
            self.slo_runbooks.setdefault((front.service, front.slo), runbook.slug)
        self.broken = got.broken

    def person_missing(self, handle: str) -> bool:
        return self.people_known and handle.lstrip("@") not in self.people

    def team_missing(self, name: str) -> bool:
        return self.people_known and name not in self.teams

    def missing(self, kind: str, name: str) -> bool:
        """Unknown and not merely broken (a file named after it failed validation)."""
        defined: dict[str, Iterable[str]] = {
            "services": self.services,
            "escalation": self.policies,
            "schedules": self.schedules,
            "runbooks": self.runbooks,
        }
        return name not in defined[kind] and name not in self.broken[kind]

    def paging(self, severity: str) -> bool:
        return bool(self.severities and severity in self.severities and self.severities[severity].paging)

    def unpaged_effect(self, severity: str) -> str:
        """What intake does with an alert of a severity that does not page."""
        level = self.severities.get(severity) if self.severities else None
        if severity == "SEV4":
            return "SEV4 is recorded only, nobody is told"
        if level is not None and level.response_hours == "business_hours":
            return f"{severity} is held until business hours"
        if level is not None and level.response_hours == "next_business_day":
            return f"{severity} is held until the next business day"
        return "the team channel is told, nobody is paged"

    def lightest_paging(self) -> str:
        """The least severe severity that pages (what a burn-rate page usually is): SEV2 in the example."""
        paging = [name for name, level in (self.severities or {}).items() if level.paging]
        return max(paging) if paging else "SEV2"

    def slo_runbook(self, service: str, slo: str) -> str | None:
        """The runbook whose front matter names this SLO (and this service, or none): the engine's link."""
        return self.slo_runbooks.get((service, slo)) or self.slo_runbooks.get((None, slo))


def _duplicates(items: Iterable[tuple[str, Source, tuple[Any, ...]]], what: str, report: Report) -> None:
    first: dict[str, tuple[Source, tuple[Any, ...]]] = {}
    for name, source, keys in items:
        if name in first:
            where, at = first[name]
            report.error(
                source, keys, f"duplicate {what} '{name}' (already defined at {where.path}:{where.at(*at)})"
            )
        else:
            first[name] = (source, keys)


def _check_people(got: Collected, ctx: Names, report: Report) -> None:
    if got.people is None:
        return
    people, source = got.people
    _duplicates(
        ((p.handle, source, ("people", i, "handle")) for i, p in enumerate(people.people)), "person", report
    )
    _duplicates(((t.name, source, ("teams", i, "name")) for i, t in enumerate(people.teams)), "team", report)
    for i, team in enumerate(people.teams):
        for j, member in enumerate(team.members):
            if ctx.person_missing(member):
                report.error(
                    source,
                    ("teams", i, "members", j),
                    f"team '{team.name}': unknown person '{member}' (people: {listed(ctx.people)})",
                )
        if team.lead and ctx.person_missing(team.lead):
            report.error(source, ("teams", i, "lead"), f"team '{team.name}': unknown lead '{team.lead}'")
        elif team.lead and team.lead.lstrip("@") not in {m.lstrip("@") for m in team.members}:
            report.warn(
                source, ("teams", i, "lead"), f"team '{team.name}': lead '{team.lead}' is not a member"
            )


def _check_services(got: Collected, ctx: Names, report: Report) -> None:
    _duplicates(((s.name, src, ("name",)) for s, src in got.services), "service", report)
    _duplicates(
        (
            (integ.name, src, ("integrations", i, "name"))
            for s, src in got.services
            for i, integ in enumerate(s.integrations)
        ),
        "integration name (integration names are unique across services)",
        report,
    )
    _check_heartbeat_names(got, report)
    for service, src in got.services:
        if ctx.team_missing(service.owner):
            report.error(
                src, ("owner",), f"owner: unknown team '{service.owner}' (teams: {listed(ctx.teams)})"
            )
        _duplicates(
            ((slo.name, src, ("slos", i, "name")) for i, slo in enumerate(service.slos)), "SLO", report
        )
        if not service.slos:
            report.warn(
                src, ("name",), f"service '{service.name}' has no SLO: response targets cannot be derived"
            )
        hooks.service_checked(service, src, ctx, report)  # what the SLO means for paging (metrics)
        policy = service.escalation_policy
        known = ctx.policies.get(policy or "")
        if known is not None and known.service != service.name:
            report.warn(
                src,
                ("escalation_policy",),
                f"escalation_policy: policy '{policy}' says it is for service '{known.service}'",
            )
        if policy and ctx.missing("escalation", policy):
            report.error(
                src,
                ("escalation_policy",),
                f"escalation_policy: unknown policy '{policy}' (escalation/: {listed(ctx.policies)})",
            )
        for i, integ in enumerate(service.integrations):
            if integ.source == "sns" and not integ.topic_arns:
                report.warn(
                    src,
                    ("integrations", i),
                    f"integration '{integ.name}': sns without topic_arns accepts any topic",
                )
            elif integ.source != "sns" and integ.topic_arns:
                report.error(src, ("integrations", i, "topic_arns"), "topic_arns is only for source: sns")
        if service.default_runbook and ctx.missing("runbooks", service.default_runbook):
            report.error(
                src, ("default_runbook",), f"default_runbook: unknown runbook '{service.default_runbook}'"
            )
        for i, rule in enumerate(service.alert_rules):
            _check_rule(service, i, rule, src, ctx, report)
        for i, beat in enumerate(service.heartbeats):
            _check_heartbeat(service, i, beat, src, ctx, report)
        if not policy and any(ctx.paging(r.severity) for r in service.alert_rules):
            report.error(
                src, ("name",), f"service '{service.name}' has paging alert rules but no escalation_policy"
            )
        elif not policy and ctx.paging(service.default_severity):
            report.error(
                src,
                ("default_severity",),
                f"default_severity {service.default_severity} pages, but service '{service.name}' has no "
                "escalation_policy",
            )
        _check_default(service, src, ctx, report)


def _check_heartbeat_names(got: Collected, report: Report) -> None:
    """A heartbeat's key is an integration key, named after it: unique across heartbeats and integrations."""
    integrations = {integ.name for s, _src in got.services for integ in s.integrations}
    _duplicates(
        (
            (beat.name, src, ("heartbeats", i, "name"))
            for s, src in got.services
            for i, beat in enumerate(s.heartbeats)
        ),
        "heartbeat",
        report,
    )
    for service, src in got.services:
        for i, beat in enumerate(service.heartbeats):
            if beat.name in integrations:
                report.error(
                    src,
                    ("heartbeats", i, "name"),
                    f"heartbeat '{beat.name}' has the name of an integration (heartbeat keys are integration "
                    "keys: names are unique across both)",
                )


def _check_heartbeat(
    service: Service, i: int, beat: Heartbeat, src: Source, ctx: Names, report: Report
) -> None:
    """A missed heartbeat is an alert like any other: a paging one needs a runbook and someone to page."""
    severity = beat.severity or service.default_severity
    runbook = beat.runbook or service.default_runbook
    if beat.runbook and ctx.missing("runbooks", beat.runbook):
        report.error(
            src,
            ("heartbeats", i, "runbook"),
            f"heartbeat {beat.name}: unknown runbook '{beat.runbook}' (runbooks/: {listed(ctx.runbooks)})",
        )
    if not ctx.paging(severity):
        return
    if not runbook:
        report.error(
            src,
            ("heartbeats", i),
            f"heartbeat {beat.name} pages ({severity}) when missed but names no runbook (and the service "
            "has no default_runbook): every paging alert must point to a runbook (guide §4)",
        )
    policy = ctx.policies.get(service.escalation_policy or "")
    if not service.escalation_policy:
        report.error(
            src,
            ("heartbeats", i, "severity"),
            f"heartbeat {beat.name} pages ({severity}) when missed, but service '{service.name}' has no "
            "escalation_policy",
        )
    elif policy is not None:
        route = policy.severity_routing.get(severity)
        if route is None or not route.escalation_levels():
            report.error(
                src,
                ("heartbeats", i, "severity"),
                f"heartbeat {beat.name} pages ({severity}) when missed, but escalation policy "
                f"'{policy.name}' pages nobody for {severity}: add severity_routing.{severity}.page",
            )


def _check_default(service: Service, src: Source, ctx: Names, report: Report) -> None:
    """The iron rule for alerts no rule matches: a paging default needs a runbook and someone to page."""
    severity = service.default_severity
    if not ctx.paging(severity):
        return
    if not service.default_runbook:
        report.error(
            src,
            ("default_severity",),
            f"default_severity {severity} pages, but service '{service.name}' has no default_runbook: every "
            "alert no alert rule matches would page with NO RUNBOOK; add default_runbook: <runbook-slug> "
            "(every paging alert must point to a runbook, guide §4)",
        )
    policy = ctx.policies.get(service.escalation_policy or "")
    if policy is not None:
        route = policy.severity_routing.get(severity)
        if route is None or not route.escalation_levels():
            report.error(
                src,
                ("default_severity",),
                f"default_severity {severity} pages, but escalation policy '{policy.name}' pages nobody "
                f"for {severity}: add severity_routing.{severity}.page",
            )


def _check_rule(service: Service, i: int, rule: AlertRule, src: Source, ctx: Names, report: Report) -> None:
    label = rule.match.alertname or f"alert rule {i + 1}"
    pages = ctx.paging(rule.severity)
    if rule.runbook:
        if ctx.missing("runbooks", rule.runbook):
            report.error(
                src,
                ("alert_rules", i, "runbook"),
                f"alert rule {label}: unknown runbook '{rule.runbook}' (runbooks/: {listed(ctx.runbooks)})",
            )
    elif pages:
        report.error(
            src,
            ("alert_rules", i),
            f"alert rule {label} pages ({rule.severity}) but names no runbook: every paging alert "
            "must point to a runbook (guide §4)",
        )
    policy = ctx.policies.get(service.escalation_policy or "")
    if pages and policy is not None:
        route = policy.severity_routing.get(rule.severity)
        if route is None or not route.escalation_levels():
            report.error(
                src,
                ("alert_rules", i, "severity"),
                f"alert rule {label} pages ({rule.severity}) but escalation policy '{policy.name}' pages "
                f"nobody for {rule.severity}: add severity_routing.{rule.severity}.page",
            )


def _check_policies(got: Collected, ctx: Names, report: Report) -> None:
    _duplicates(((p.name, src, ("name",)) for p, src in got.policies), "escalation policy", report)
    for policy, src in got.policies:
        if ctx.missing("services", policy.service):
            report.error(
                src,
                ("service",),
                f"service: unknown service '{policy.service}' (services: {listed(ctx.services)})",
            )
        used: set[str] = set()
        for severity, route in policy.severity_routing.items():
            for key, names in (("page", route.page), ("then", route.then), ("notify", route.notify)):
                for name in names:
                    used.add(name)
                    _check_target_name(
                        policy.targets, name, src, ("severity_routing", severity, key), ctx, report
                    )
            for n, level in enumerate(route.levels):
                for name in level.targets:
                    used.add(name)
                    keys = ("severity_routing", severity, "levels", n, "targets")
                    _check_target_name(policy.targets, name, src, keys, ctx, report)
        for name, target in policy.targets.items():
            _check_target(name, target, src, ctx, report)
            if name not in used:
                report.warn(src, ("targets", name), f"target '{name}' is not used by any severity")


def _check_target_name(
    targets: dict[str, Any], name: str, src: Source, keys: tuple[Any, ...], ctx: Names, report: Report
) -> None:
    if name in targets or not ctx.people_known:
        return
    if name.lstrip("@") in ctx.people or name in ctx.teams:
        return
    report.error(
        src,
        keys,
        f"unknown target '{name}': add it under 'targets:' (a schedule layer, person, team, channel or "
        f"status_page) or use a person handle or team name (targets: {listed(targets)})",
    )


def _check_target(name: str, target: Any, src: Source, ctx: Names, report: Report) -> None:
    keys = ("targets", name)
    if target.schedule:
        schedule = ctx.schedules.get(target.schedule)
        if schedule is None:
            if ctx.missing("schedules", target.schedule):
                report.error(
                    src,
                    (*keys, "schedule"),
                    f"target '{name}': unknown schedule '{target.schedule}' "
                    f"(schedules/: {listed(ctx.schedules)})",
                )
        elif target.layer and target.layer not in {layer.name for layer in schedule.layers}:
            report.error(
                src,
                (*keys, "layer"),
                f"target '{name}': schedule '{target.schedule}' has no layer "
                f"'{target.layer}' (layers: {listed(layer.name for layer in schedule.layers)})",
            )
    elif target.person and ctx.person_missing(target.person):
        report.error(src, (*keys, "person"), f"target '{name}': unknown person '{target.person}'")
    elif target.team and ctx.team_missing(target.team):
        report.error(src, (*keys, "team"), f"target '{name}': unknown team '{target.team}'")
    elif target.channel:
        team = ctx.teams.get(target.channel)
        if team is None and ctx.team_missing(target.channel):
            report.error(
                src,
                (*keys, "channel"),
                f"target '{name}': unknown team '{target.channel}' (channel: names a team)",
            )
        elif team is not None and team.channel is None:
            report.error(
                src,
                (*keys, "channel"),
                f"target '{name}': team '{target.channel}' has no channel in people.yaml",
            )


def _check_schedules(got: Collected, ctx: Names, report: Report) -> None:
    _duplicates(((s.name, src, ("name",)) for s, src in got.schedules), "schedule", report)
    for schedule, src in got.schedules:
        _duplicates(
            ((layer.name, src, ("layers", i, "name")) for i, layer in enumerate(schedule.layers)),
            "layer",
            report,
        )
        for i, layer in enumerate(schedule.layers):
            rotation = layer.rotation
            if rotation is None:
                _check_stack(schedule, i, src, report)
                continue
            for j, member in enumerate(rotation.members):
                if ctx.person_missing(member):
                    report.error(
                        src,
                        ("layers", i, "rotation", "members", j),
                        f"layer '{layer.name}': unknown person '{member}' (people: {listed(ctx.people)})",
                    )
            weekday = rotation.handoff.weekday
            if weekday and rotation.length == "weekly" and WEEKDAYS[rotation.start.weekday()] != weekday:
                report.warn(
                    src,
                    ("layers", i, "rotation", "start"),
                    f"layer '{layer.name}': start {rotation.start} is a "
                    f"{WEEKDAYS[rotation.start.weekday()]}, but handoffs are on {weekday}",
                )


def _check_stack(schedule: Schedule, i: int, src: Source, report: Report) -> None:
    """Each name of a stack is a rotation layer of the same schedule (no stack of stacks: the
    vendors' final schedule is one level, and nothing can then loop)."""
    layer = schedule.layers[i]
    rotations = [x.name for x in schedule.layers if x.rotation is not None]
    for j, name in enumerate(layer.stack or ()):
        found = schedule.layer(name)
        if found is None:
            report.error(
                src,
                ("layers", i, "stack", j),
                f"layer '{layer.name}': stack names unknown layer '{name}' "
                f"(layers with a rotation: {listed(rotations)})",
            )
        elif found.rotation is None:
            report.error(
                src,
                ("layers", i, "stack", j),
                f"layer '{layer.name}': '{name}' is itself a stack; a stack lists layers with a "
                f"rotation ({listed(rotations)})",
            )


def _check_runbooks(got: Collected, ctx: Names, report: Report) -> None:
    pointed: dict[str, list[str]] = {}
    alertnames = {r.match.alertname for s, _ in got.services for r in s.alert_rules if r.match.alertname}
    for service, _src in got.services:
        for rule in service.alert_rules:
            if rule.runbook:
                pointed.setdefault(rule.runbook, []).append(service.name)
        if service.default_runbook:
            pointed.setdefault(service.default_runbook, []).append(service.name)
    for runbook, src in got.runbooks:
        meta = runbook.front_matter
        if ctx.person_missing(meta.owner) and ctx.team_missing(meta.owner):
            report.error(
                src, ("owner",), f"front matter: owner '{meta.owner}' is neither a team nor a person"
            )
        if meta.service and ctx.missing("services", meta.service):
            report.error(
                src,
                ("service",),
                f"front matter: unknown service '{meta.service}' (services: {listed(ctx.services)})",
            )
        services = [meta.service] if meta.service else sorted(set(pointed.get(runbook.slug, [])))
        for name in services:
            slos = ctx.service_slos.get(name)
            if slos is not None and meta.slo not in slos:
                report.error(
                    src,
                    ("slo",),
                    f"front matter: slo '{meta.slo}' is not an SLO of service '{name}' "
                    f"(its SLOs: {listed(slos)})",
                )
        for j, alert in enumerate(meta.alerts):
            if alert not in alertnames:
                report.warn(src, ("alerts", j), f"front matter: no alert rule matches alertname '{alert}'")
        if runbook.slug not in pointed:
            report.warn(src, (), f"runbook '{runbook.slug}' is not named by any alert rule")
