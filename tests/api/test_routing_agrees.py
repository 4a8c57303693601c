"""``check --prometheus-rules`` predicts exactly what intake decides (issue 14, item 10).

The linter said an alert with ``labels: {severity: SEV1}`` and no matching rule "pages as SEV1";
intake routed it by the service's ``default_severity`` (SEV3) and held it until business hours.
Now the linter asks intake's own routing (``alerts.rules.route``, on the event intake's
Alertmanager parser makes of the alert), and this test sends every alerting rule of a rules file
through the real Alertmanager intake endpoint and compares what was stored with the prediction —
for every rule and every service whose integration could receive it, on both databases.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from commandpost.alerts.models import Alert
from commandpost.alerts.promrules import lint_prometheus_rules, pages, predict
from commandpost.policy import service as policy_service
from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import OpsConfig
from tests import cli_support
from tests.conftest import EXAMPLE_OPS

# A second service, so an alert without a service label has two places to land.
LEDGER = """
name: ledger
owner: payments
escalation_policy: payment-platform
slos:
  - {name: availability, objective: 99.9, window: 30d}
integrations:
  - {name: ledger-alertmanager, source: alertmanager}
alert_rules:
  - match: {labels: {severity: critical}}
    severity: SEV1
    runbook: db-connection-exhaustion
  - match: {alertname: LedgerDrift, source_severity: warning}
    severity: SEV3
  - match: {alertname: SLOErrorBudgetBurn, labels: {urgency: page}}
    severity: SEV2
    runbook: db-connection-exhaustion
default_severity: SEV4
"""

RULES = """
groups:
  - name: varied
    rules:
      - record: job:errors:rate5m
        expr: sum(rate(errors_total[5m]))
      - alert: WebhookBacklogHigh
        expr: payment_webhook_queue_depth > 1000
        labels: {service: payment-platform}
        annotations: {runbook_url: "https://runbooks.internal/payment-webhook-backlog"}
      - alert: DBConnectionsExhausted
        expr: x > 1
        annotations: {runbook_url: db-connection-exhaustion}
      - alert: AnythingSev1                  # the issue's case: a severity label and no rule
        expr: up == 0
        labels: {severity: SEV1}
      - alert: AnythingSev1Here
        expr: up == 0
        labels: {service: payment-platform, severity: SEV1}
      - alert: LedgerCritical
        expr: y > 1
        labels: {service: ledger, severity: critical}
        annotations: {runbook: "https://runbooks.internal/db-connection-exhaustion.md#mitigate"}
      - alert: SomethingCritical             # no service label: matches ledger's rule only
        expr: y > 1
        labels: {severity: critical}
        annotations: {runbook_url: db-connection-exhaustion}
      - alert: LedgerDrift
        expr: z > 1
        labels: {service: ledger, severity: Warning}
      - alert: SLOErrorBudgetBurn
        expr: burn > 14.4
        labels: {service: payment-platform, urgency: page, slo: availability}
      - alert: SLOErrorBudgetBurn
        expr: burn > 14.4
        labels: {urgency: page, slo: charge-success}
        annotations: {runbook_url: "https://wiki.example.com/burn"}
      - alert: K8sThing
        expr: k > 1
        labels: {service: some-k8s-service, severity: warning}
      - alert: LedgerQuiet
        expr: q > 1
        labels: {service: ledger}
"""


def ops_with_ledger(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "services" / "ledger.yaml").write_text(LEDGER)
    return ops


def alerting_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(textwrap.dedent(RULES))
    return [r for g in data["groups"] for r in g["rules"] if "alert" in r]


def strings(value: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def webhook(rule: dict[str, Any], n: int) -> dict[str, Any]:
    """What Alertmanager posts when the rule fires (an ``n`` label keeps each alert's fingerprint apart)."""
    labels = {**strings(rule.get("labels")), "alertname": rule["alert"], "n": str(n)}
    return {
        "version": "4",
        "status": "firing",
        "receiver": "commandpost",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "alerts": [{"status": "firing", "labels": labels, "annotations": strings(rule.get("annotations"))}],
    }


def decision(alert: Alert) -> tuple[str, bool, int | None, str | None]:
    return (alert.severity, alert.paging, alert.rule, alert.runbook)


@pytest.fixture
def ledger_ops(sessions, clock, tmp_path) -> tuple[OpsConfig, dict[str, str]]:
    """examples/ops plus the ledger service, applied; returns its config and service → alertmanager key."""
    ops = ops_with_ledger(tmp_path)
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
        config = policy_service.current_config(s)
        keys = {k.service: k.key for k in policy_service.list_integrations(s) if k.source == "alertmanager"}
    return config, keys


def test_the_linter_predicts_intakes_decision_for_every_rule(client, sessions, ledger_ops):
    config, keys = ledger_ops
    assert set(keys) == {"payment-platform", "ledger"}
    rules = alerting_rules()
    compared = 0
    for n, rule in enumerate(rules):
        predicted = {
            p.service: (p.route.severity, p.route.paging, p.route.rule, p.route.runbook)
            for p in predict(
                config, rule["alert"], strings(rule.get("labels")), strings(rule.get("annotations"))
            )
        }
        label = strings(rule.get("labels")).get("service")
        receivers = [label] if label in keys else sorted(keys)  # where Alertmanager may deliver it
        for service in receivers:
            r = client.post(f"/api/v1/intake/alertmanager/{keys[service]}", json=webhook(rule, n))
            assert r.status_code == 202, r.text
            with sessions() as s:
                stored = s.scalars(
                    select(Alert)
                    .where(Alert.alertname == rule["alert"], Alert.service == service)
                    .order_by(Alert.id.desc())
                ).first()
                assert stored is not None
                got = decision(stored)
            if service in predicted:
                assert predicted[service] == got, (rule["alert"], service)
                compared += 1
            else:
                # the linter makes no claim for a service it cannot tell receives the alert: only
                # ever one whose alert rules do not match it (the default applies there)
                assert got[2] is None, (rule["alert"], service, got)
        # the linter's verdict is what intake did wherever it predicted
        verdict = pages(config, rule["alert"], strings(rule.get("labels")), strings(rule.get("annotations")))
        assert (verdict is not None) == any(p[1] for p in predicted.values()), rule["alert"]
    # 8 rules predicted on one service, the charge-success burn on both; AnythingSev1 and K8sThing match
    # no rule anywhere, and were seen above to land on each receiving service's default
    assert compared == 10


def test_a_severity_label_without_a_rule_is_not_called_paging(client, sessions, applied_ops, tmp_path):
    """The issue's case, end to end on examples/ops: no page claimed, SEV3 stored, a warning says why."""
    rule = {"alert": "AnythingSev1", "labels": {"severity": "SEV1"}}
    assert pages(applied_ops, "AnythingSev1", {"severity": "SEV1"}) is None
    key = next(k.key for k in _integrations(sessions) if k.source == "alertmanager")
    r = client.post(f"/api/v1/intake/alertmanager/{key}", json=webhook(rule, 0))
    assert r.status_code == 202, r.text
    with sessions() as s:
        stored = s.scalars(select(Alert).where(Alert.alertname == "AnythingSev1")).one()
        assert (stored.severity, stored.paging, stored.incident_id) == ("SEV3", False, None)
    path = tmp_path / "rules.yml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: AnythingSev1\n        expr: up == 0\n"
        "        labels: {severity: SEV1}\n"
    )
    linted = lint_prometheus_rules([path], applied_ops)
    assert linted.errors == []
    assert [str(w) for w in linted.warnings] == [
        f"{path}:4: alert 'AnythingSev1' has labels.severity SEV1, but commandpost takes the severity "
        "from the ops folder's alert_rules, never from a label: it routes as SEV3 (service "
        "payment-platform's default_severity), which does not page (SEV3 is handled within business "
        "hours); to page on it, add to services/payment-platform.yaml alert_rules: "
        "{match: {alertname: AnythingSev1}, severity: SEV1, runbook: <runbook-slug>}"
    ]


def _integrations(sessions):
    with sessions() as s:
        return policy_service.list_integrations(s)


def test_the_rules_file_lints_against_the_ledger_ops(tmp_path):
    """The same rules file through the linter: errors only where a predicted page lacks an ops runbook
    (the ``runbook`` annotation counts, as at intake); warnings where a SEVn label is not the route."""
    ops = ops_with_ledger(tmp_path)
    result = load_ops(ops)
    assert result.config is not None, result.errors
    path = tmp_path / "rules.yml"
    path.write_text(textwrap.dedent(RULES).lstrip("\n"))
    linted = lint_prometheus_rules([path], result.config)
    assert [(f.line, f.message.split(":")[0]) for f in linted.errors] == [
        (
            30,
            "alert 'SLOErrorBudgetBurn' pages as SEV2 (services/payment-platform alert rule 3) but has no "
            "annotations.runbook_url; add runbook_url",
        ),
        (33, "alert 'SLOErrorBudgetBurn' pages as SEV2 (services/ledger alert rule 3)"),
    ]
    assert [(f.line, f.message.split(":")[1].strip()) for f in linted.warnings] == [
        (
            13,
            "no alert rule matches it, so it gets the default_severity of the service whose integration "
            "receives it (ledger, payment-platform); add to that service's alert_rules",
        ),
        (
            16,
            "it routes as SEV3 (service payment-platform's default_severity), which does not page (SEV3 is "
            "handled within business hours); to page on it, add to services/payment-platform.yaml "
            "alert_rules",
        ),
    ]


def test_check_prometheus_rules_no_longer_claims_the_label_pages(tmp_path):
    """The issue's command: the linter used to fail this rule as "pages as SEV1 … no runbook_url"."""
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: AnythingSev1\n        expr: up == 0\n"
        "        labels: {severity: SEV1}\n"
    )
    args = ["check", str(EXAMPLE_OPS), "--prometheus-rules", "rules.yml"]
    env = {"COLUMNS": "300", "COMMANDPOST_SMTP_HOST": "smtp.example.com"}
    run = cli_support.run_cli(args, env=env, cwd=tmp_path)
    assert "pages as SEV1" not in run.stdout
    assert f"{tmp_path / 'rules.yml'}:4: warning: alert 'AnythingSev1' has labels.severity SEV1" in run.stdout
    assert "it routes as SEV3 (service payment-platform's default_severity)" in run.stdout
    strict = cli_support.run_cli([*args, "--strict"], env=env, cwd=tmp_path)
    assert strict.returncode == 1
