"""``commandpost check --prometheus-rules``: every paging Prometheus alert links a real runbook.

The guide's iron rule (§4) checked where alerts are written, before they ever fire. For each
alerting rule (``groups[].rules[]`` with ``alert:``; recording rules are skipped; a Kubernetes
``PrometheusRule`` with ``spec.groups`` works too) we decide whether it pages exactly as intake
routing will (:func:`commandpost.alerts.rules.route`), on the labels the alert will carry
(its ``labels`` plus ``alertname``; ``severity`` is its source severity):

- a ``service`` label naming an ops service: that service's routing — the first matching
  ``alert_rules`` entry, else the service's ``default_severity``;
- otherwise (the integration it arrives on is unknown here): every service whose alert rules
  match it;
- and, in both cases, a ``severity`` label of SEV1..SEV4 as written.

If any of these is a paging severity, the rule must carry ``annotations.runbook_url`` naming a
runbook of the ops folder — a bare slug, or a URL under ``runbook_base_url`` whose last path
segment is the slug (resolved by :func:`commandpost.alerts.rules.resolve_runbook`, as intake
does). Findings point at the rule's ``alert:`` line: ``path:line: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.rules import resolve_runbook, route
from commandpost.policy.findings import Finding
from commandpost.policy.schema import SEVERITIES, OpsConfig, Service
from commandpost.policy.yamlsource import KeyPath, Parsed, parse_yaml

RULE_SUFFIXES = (".yml", ".yaml")
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Paging:
    """Why a rule pages: its severity, where that came from, and the runbook routing names."""

    severity: str
    because: str
    runbook: str | None = None


def lint_prometheus_rules(paths: Iterable[Path], config: OpsConfig) -> list[Finding]:
    """Findings for every rule file in ``paths`` (a folder means its ``*.yml``/``*.yaml``, recursively)."""
    findings: list[Finding] = []
    for path in _rule_files(paths, findings):
        findings.extend(lint_rule_file(path, config))
    return sorted(findings)


def lint_rule_file(path: Path, config: OpsConfig) -> list[Finding]:
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [Finding(where, 1, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a rule file?")]
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [Finding(where, 1, "not UTF-8 text")]
    except OSError as exc:
        return [Finding(where, 1, f"cannot read: {exc.strerror}")]
    parsed, problems = parse_yaml(text)
    findings = [Finding(where, p.line, p.message.replace(" in ops files", "")) for p in problems]
    if parsed is not None:
        findings.extend(_FileLint(where, parsed, config).run())
    return sorted(set(findings))


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
        self.findings: list[Finding] = []

    def error(self, key: KeyPath, message: str) -> None:
        self.findings.append(Finding(self.where, self.parsed.line(key), message))

    def run(self) -> list[Finding]:
        data = self.parsed.data
        if data is None:
            return []  # an empty rule file is valid for Prometheus
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
        paging = pages(self.config, name, labels)
        if paging is None:
            return
        message = _runbook_problem(self.config, name, paging, annotations.get("runbook_url"))
        if message:
            self.error((*key, "alert"), message)

    def _strings(self, rule: dict[str, Any], key: KeyPath, field: str) -> dict[str, str] | None:
        value = rule.get(field) or {}
        if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
            self.error(key, f"'{field}' must be a mapping of names to plain values")
            return None
        return {str(k): "" if v is None else str(v) for k, v in value.items()}


def pages(config: OpsConfig, alertname: str, labels: dict[str, str]) -> Paging | None:
    """The most severe paging severity this alert can be routed to, or None if it never pages."""
    event = NormalizedEvent(
        action="trigger",
        dedup_key=alertname,
        alertname=alertname,
        labels={**labels, "alertname": alertname},
        source_severity=labels.get("severity", ""),
    )
    found: list[Paging] = []
    label = labels.get("severity", "").upper()
    if label in SEVERITIES:
        found.append(Paging(label, f"its severity label is {label}"))
    named = config.service(labels.get("service", ""))
    for service in [named] if named else config.services:
        decided = route(config, service, event)
        if decided.rule is None and named is None:
            continue  # an unknown service's default severity says nothing about this alert
        found.append(
            Paging(decided.severity, _because(service, decided.rule), _slug(config, decided.runbook))
        )
    paging = [p for p in found if config.severities.get(p.severity) and config.severities[p.severity].paging]
    return min(paging, key=lambda p: p.severity) if paging else None


def _because(service: Service, rule: int | None) -> str:
    if rule is None:
        return f"service {service.name}'s default_severity"
    return f"services/{service.name} alert_rules[{rule}]"


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
