"""``commandpost check --prometheus-rules``: every paging Prometheus alert links a real runbook.

The guide's iron rule (§4) checked where alerts are written, before they ever fire. For each
alerting rule (``groups[].rules[]`` with ``alert:``; recording rules are skipped; a Kubernetes
``PrometheusRule`` with ``spec.groups`` works too) :func:`predict` says what intake will decide,
with intake's own code: the rule's ``labels`` and ``annotations`` become the event intake's
Alertmanager parser makes of the firing alert, and :func:`commandpost.alerts.rules.route` (the one
routing function, which intake calls too) routes it on each service that can receive it:

- a ``service`` label naming an ops service: that service (Alertmanager routes on it) — its first
  matching ``alert_rules`` entry, else its ``default_severity``;
- otherwise, when only one service has integrations: that service, the same way;
- otherwise (which integration receives it is not known here): every service whose alert rules
  match it; a service whose rules do not match would give it its ``default_severity``, which says
  nothing about this alert.

A ``severity`` label is only the *source* severity (a rule may match it with ``source_severity``
or ``labels``); commandpost never reads a SEV from it. A label of SEV1..SEV4 that routing does not
give is a warning saying what the alert routes as and which rule to add.

If a predicted severity pages, the alert's runbook annotation (``runbook_url``, or ``runbook``, as
intake reads it) must name a runbook of the ops folder — a bare slug, or a URL under
``runbook_base_url`` whose last path segment is the slug (:func:`commandpost.alerts.rules.resolve_runbook`).
Findings point at the rule's ``alert:`` line: ``path:line: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.rules import Route, resolve_runbook, route
from commandpost.alerts.sources import alertmanager
from commandpost.policy.findings import Finding
from commandpost.policy.opsfiles import SEVERITIES, OpsConfig, Service
from commandpost.policy.yamlsource import KeyPath, Parsed, parse_yaml

RULE_SUFFIXES = (".yml", ".yaml")
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Prediction:
    """What intake decides for the alert when it arrives on an integration of ``service``."""

    service: str
    route: Route


@dataclass(frozen=True)
class Paging:
    """Why a rule pages: its severity, where that came from, and the runbook routing names."""

    severity: str
    because: str
    runbook: str | None = None


@dataclass
class RulesLint:
    """The linter's findings: errors fail ``check``; warnings fail it only with ``--strict``."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def extend(self, other: RulesLint) -> None:
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)


def lint_prometheus_rules(paths: Iterable[Path], config: OpsConfig) -> RulesLint:
    """Findings for every rule file in ``paths`` (a folder means its ``*.yml``/``*.yaml``, recursively)."""
    found = RulesLint()
    for path in _rule_files(paths, found.errors):
        found.extend(lint_rule_file(path, config))
    return RulesLint(sorted(set(found.errors)), sorted(set(found.warnings)))


def lint_rule_file(path: Path, config: OpsConfig) -> RulesLint:
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            size = f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a rule file?"
            return RulesLint([Finding(where, 1, size)])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return RulesLint([Finding(where, 1, "not UTF-8 text")])
    except OSError as exc:
        return RulesLint([Finding(where, 1, f"cannot read: {exc.strerror}")])
    parsed, problems = parse_yaml(text)
    found = RulesLint([Finding(where, p.line, p.message.replace(" in ops files", "")) for p in problems])
    if parsed is not None:
        found.extend(_FileLint(where, parsed, config).run())
    return RulesLint(sorted(set(found.errors)), sorted(set(found.warnings)))


def _rule_files(paths: Iterable[Path], findings: list[Finding]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in RULE_SUFFIXES)
            if not found:
                findings.append(Finding(str(path), 0, "no .yml or .yaml rule files in this folder"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            findings.append(Finding(str(path), 0, "no such file"))
    return files


class _FileLint:
    def __init__(self, where: str, parsed: Parsed, config: OpsConfig) -> None:
        self.where, self.parsed, self.config = where, parsed, config
        self.findings = RulesLint()

    def error(self, key: KeyPath, message: str) -> None:
        self.findings.errors.append(Finding(self.where, self.parsed.line(key), message))

    def warn(self, key: KeyPath, message: str) -> None:
        self.findings.warnings.append(Finding(self.where, self.parsed.line(key), message))

    def run(self) -> RulesLint:
        data = self.parsed.data
        if data is None:
            return self.findings  # an empty rule file is valid for Prometheus
        if not isinstance(data, dict):
            self.error((), "a Prometheus rule file is a mapping with a 'groups' list")
            return self.findings
        base: KeyPath = ("groups",)
        if "groups" not in data and isinstance(data.get("spec"), dict) and "groups" in data["spec"]:
            base = ("spec", "groups")  # Kubernetes PrometheusRule
        groups = self._at(base)
        if groups is None:
            self.error((), "no 'groups' list: a Prometheus rule file is 'groups: [{name, rules: [...]}]'")
        elif not isinstance(groups, list):
            self.error(base, "'groups' must be a list")
        else:
            for g, group in enumerate(groups):
                self._group((*base, g), group)
        return self.findings

    def _at(self, key: KeyPath) -> Any:
        value = self.parsed.data
        for part in key:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def _group(self, key: KeyPath, group: Any) -> None:
        if not isinstance(group, dict):
            self.error(key, "a group must be a mapping with 'name' and 'rules'")
            return
        rules = group.get("rules", [])
        if not isinstance(rules, list):
            self.error((*key, "rules"), "'rules' must be a list")
            return
        for r, rule in enumerate(rules):
            self._rule((*key, "rules", r), rule)

    def _rule(self, key: KeyPath, rule: Any) -> None:
        if not isinstance(rule, dict):
            self.error(key, "a rule must be a mapping with 'alert' or 'record'")
            return
        if "record" in rule:
            return
        name = rule.get("alert")
        if not isinstance(name, str) or not name:
            self.error(key, "a rule needs 'alert: <name>' (or 'record:' for a recording rule)")
            return
        labels = self._strings(rule, (*key, "labels"), "labels")
        annotations = self._strings(rule, (*key, "annotations"), "annotations")
        if labels is None or annotations is None:
            return
        event = alert_event(name, labels, annotations)
        predicted = _predict(self.config, event)
        label_problem = _severity_label_problem(self.config, name, labels, predicted)
        if label_problem:
            self.warn((*key, "alert"), label_problem)
        paging = _paging(self.config, predicted)
        if paging is None:
            return
        message = _runbook_problem(self.config, name, paging, event.runbook_url)
        if message:
            self.error((*key, "alert"), message)

    def _strings(self, rule: dict[str, Any], key: KeyPath, field: str) -> dict[str, str] | None:
        value = rule.get(field) or {}
        if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
            self.error(key, f"'{field}' must be a mapping of names to plain values")
            return None
        return {str(k): "" if v is None else str(v) for k, v in value.items()}


def alert_event(alertname: str, labels: dict[str, str], annotations: dict[str, str]) -> NormalizedEvent:
    """The event intake makes of this rule's alert when it fires: Alertmanager's webhook for it, read
    by intake's own Alertmanager parser (labels, source severity and runbook URL exactly as intake
    reads them)."""
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {**labels, "alertname": alertname}, "annotations": annotations}
        ],
    }
    (event,) = alertmanager.parse(orjson.dumps(body))
    return event


def arrival_services(config: OpsConfig, labels: dict[str, str]) -> tuple[list[Service], bool]:
    """The services whose integrations can receive the alert, and whether that is known for sure."""
    named = config.service(labels.get("service", ""))
    if named is not None:
        return [named], True
    receiving = [s for s in config.services if s.integrations]
    if len(receiving) == 1:
        return receiving, True
    return list(config.services), False


def predict(
    config: OpsConfig, alertname: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> list[Prediction]:
    """Intake's routing decision for the alert on each service that can receive it (see the module)."""
    return _predict(config, alert_event(alertname, labels, annotations or {}))


def _predict(config: OpsConfig, event: NormalizedEvent) -> list[Prediction]:
    services, known = arrival_services(config, event.labels)
    found = []
    for service in services:
        decided = route(config, service, event)
        if decided.rule is None and not known:
            continue  # a default_severity says nothing about an alert that may never arrive there
        found.append(Prediction(service.name, decided))
    return found


def pages(
    config: OpsConfig, alertname: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> Paging | None:
    """The most severe paging severity this alert is routed to, or None if it never pages."""
    return _paging(config, predict(config, alertname, labels, annotations))


def _paging(config: OpsConfig, predicted: list[Prediction]) -> Paging | None:
    found = [
        Paging(p.route.severity, _because(p), _slug(config, p.route.runbook))
        for p in predicted
        if p.route.paging
    ]
    return min(found, key=lambda p: p.severity) if found else None


def _severity_label_problem(
    config: OpsConfig, name: str, labels: dict[str, str], predicted: list[Prediction]
) -> str | None:
    """A ``severity: SEVn`` label that routing does not give: say what the alert routes as instead."""
    label = labels.get("severity", "").strip().upper()
    if label not in SEVERITIES or any(p.route.severity == label for p in predicted):
        return None
    wants = f"alert {name!r} has labels.severity {labels['severity']}, but commandpost takes the severity "
    wants += "from the ops folder's alert_rules, never from a label"
    rule = f"{{match: {{alertname: {name}}}, severity: {label}, runbook: <runbook-slug>}}"
    if not predicted:
        services, _known = arrival_services(config, labels)
        names = ", ".join(s.name for s in services) or "none"
        return (
            f"{wants}: no alert rule matches it, so it gets the default_severity of the service whose "
            f"integration receives it ({names}); add to that service's alert_rules: {rule}"
        )
    first = predicted[0]
    level = config.severities.get(first.route.severity)
    if first.route.paging:
        effect = "which pages"
    elif level is not None and level.response_hours != "always":
        hours = level.response_hours.replace("_", " ")
        handled = "within business hours" if hours == "business hours" else f"on the {hours}"
        effect = f"which does not page ({first.route.severity} is handled {handled})"
    else:
        effect = "which does not page"
    return (
        f"{wants}: it routes as {first.route.severity} ({_because(first)}), {effect}; to page "
        f"on it, add to services/{first.service}.yaml alert_rules: {rule}"
    )


def _because(predicted: Prediction) -> str:
    if predicted.route.rule is None:
        return f"service {predicted.service}'s default_severity"
    return f"services/{predicted.service} alert rule {predicted.route.rule + 1}"  # counted from 1


def _slug(config: OpsConfig, runbook: str | None) -> str | None:
    return runbook if runbook and config.runbook(runbook) else None


def _runbook_problem(config: OpsConfig, name: str, paging: Paging, url: str | None) -> str | None:
    """What is wrong with a paging rule's runbook_url, or None when it names an ops runbook."""
    pages_as = f"alert {name!r} pages as {paging.severity} ({paging.because})"
    if not url or not url.strip():
        return f"{pages_as} but has no annotations.runbook_url; add {_suggest(config, paging)}"
    if "{{" in url:
        return f"{pages_as}: runbook_url {url!r} is a template and cannot be checked; write the URL out"
    if config.runbook(resolve_runbook(config, url)):
        return None
    base = config.settings.runbook_base_url.rstrip("/")
    where = f"a slug or a URL under runbook_base_url {base}" if base else "a runbook slug"
    known = ", ".join(sorted(r.slug for r in config.runbooks)) or "none"
    return (
        f"{pages_as}: runbook_url {url!r} does not name a runbook of the ops folder "
        f"(use {where}; runbooks: {known})"
    )


def _suggest(config: OpsConfig, paging: Paging) -> str:
    base = config.settings.runbook_base_url.rstrip("/")
    slug = paging.runbook or "<runbook-slug>"
    return f"runbook_url: {base}/{slug}" if base else f"runbook_url: {slug}"
