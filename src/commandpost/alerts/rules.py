"""Routing decisions, pure: which SEV, which runbook, which group, page or not (guide §2, §4).

The integration gives the service; the service's alert rules (first match wins) give the
severity, runbook and grouping labels; an unmatched alert gets the service's defaults. The
runbook comes from the rule, else the alert's ``runbook_url`` (a runbook of the ops folder when
it is ``runbook_base_url/<slug>`` or a bare slug, else the URL as given), else the service's
default runbook. A paging alert with none still pages, marked *no runbook*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commandpost.alerts.normalized import NormalizedEvent
from commandpost.policy.opsfiles import WEEKDAYS, AlertMatch, OpsConfig, Service

FALLBACK_SEVERITY = "SEV3"
_RUNBOOK_SUFFIXES = (".md", ".html", ".htm")


@dataclass(frozen=True)
class Route:
    severity: str
    paging: bool
    runbook: str | None
    """an ops runbook slug, or an external URL the alert named"""
    group_key: str
    rule: int | None
    """index of the matched alert rule in the service's ``alert_rules``; None: the default"""


def matches(match: AlertMatch, event: NormalizedEvent) -> bool:
    if match.alertname is not None and match.alertname != event.alertname:
        return False
    if match.source_severity is not None and match.source_severity.lower() != event.source_severity.lower():
        return False
    return all(event.labels.get(name) == value for name, value in match.labels.items())


def first_match(service: Service, event: NormalizedEvent) -> int | None:
    """Index of the first of the service's ``alert_rules`` that matches; None: the defaults apply."""
    return next((i for i, rule in enumerate(service.alert_rules) if matches(rule.match, event)), None)


def route(config: OpsConfig, service: Service | None, event: NormalizedEvent) -> Route:
    """The one routing decision: intake calls it for every new alert, and ``check`` (the Prometheus
    rules linter, the burn-alert check) calls it to predict what intake will do."""
    rule_index = first_match(service, event) if service is not None else None
    severity = service.default_severity if service else FALLBACK_SEVERITY
    runbook: str | None = None
    group_by: list[str] = []
    if service is not None and rule_index is not None:
        rule = service.alert_rules[rule_index]
        severity, runbook, group_by = rule.severity, rule.runbook, rule.group_by
    if runbook is None and event.runbook_url:
        runbook = resolve_runbook(config, event.runbook_url)
    if runbook is None and service is not None:
        runbook = service.default_runbook
    level = config.severities.get(severity)
    return Route(
        severity=severity,
        paging=bool(level and level.paging),
        runbook=runbook,
        group_key=group_key(event, group_by),
        rule=rule_index,
    )


def resolve_runbook(config: OpsConfig, url: str) -> str:
    """The ops runbook a ``runbook_url`` names (its slug), else the URL itself (an external runbook)."""
    text = url.strip()
    base = config.settings.runbook_base_url.rstrip("/")
    candidate = text
    if base and text.startswith(base + "/"):
        candidate = text[len(base) + 1 :]
    candidate = candidate.strip("/").split("#", 1)[0].split("?", 1)[0]
    for suffix in _RUNBOOK_SUFFIXES:
        candidate = candidate.removesuffix(suffix)
    if "/" not in candidate and config.runbook(candidate) is not None:
        return candidate
    return text


def group_key(event: NormalizedEvent, group_by: list[str]) -> str:
    """The rule's grouping labels when it has some, else the source's group, else the alert name,
    else the dedup key: alerts with one group key share an open incident."""
    if group_by:
        values = {"alertname": event.alertname, **event.labels}
        return ",".join(f"{name}={values.get(name, '')}" for name in group_by)[:300]
    key = event.group_key or (f"alertname={event.alertname}" if event.alertname else event.dedup_key)
    return key[:300]


def within_business_hours(config: OpsConfig, now: datetime) -> bool:
    hours = config.settings.business_hours
    local = now.astimezone(ZoneInfo(config.settings.timezone))
    return WEEKDAYS[local.weekday()] in hours.days and hours.start <= local.time() < hours.end


def next_business_start(config: OpsConfig, now: datetime) -> datetime:
    """``now`` if it is within business hours, else the next opening (in UTC)."""
    if within_business_hours(config, now):
        return now
    hours = config.settings.business_hours
    zone = ZoneInfo(config.settings.timezone)
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        opening = datetime.combine(day, hours.start, tzinfo=zone)
        if WEEKDAYS[day.weekday()] in hours.days and opening > local:
            return opening.astimezone(now.tzinfo)
    return now  # no business days configured: tell the channel at once
