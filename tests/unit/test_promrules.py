"""Prometheus alerting-rule lint against the guide's example ops folder (examples/ops)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from commandpost.alerts.promrules import lint_prometheus_rules, pages
from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import OpsConfig

EXAMPLE_OPS = Path(__file__).resolve().parents[2] / "examples" / "ops"


@pytest.fixture(scope="module")
def config() -> OpsConfig:
    result = load_ops(EXAMPLE_OPS)
    assert result.config is not None, result.errors
    return result.config


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def lint(config: OpsConfig, *paths: Path) -> list[str]:
    return [str(f) for f in lint_prometheus_rules(paths, config).errors]


def warnings(config: OpsConfig, *paths: Path) -> list[str]:
    return [str(f) for f in lint_prometheus_rules(paths, config).warnings]


def test_good_rules_pass(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: payments
            rules:
              - record: job:http_errors:rate5m
                expr: sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
              - alert: WebhookBacklogHigh
                expr: payment_webhook_queue_depth > 1000
                for: 3m
                labels:
                  service: payment-platform
                annotations:
                  summary: Payment webhook backlog
                  runbook_url: https://runbooks.internal/payment-webhook-backlog
              - alert: DBConnectionsExhausted
                expr: pg_stat_activity_count / pg_settings_max_connections > 0.95
                labels: {service: payment-platform}
                annotations: {runbook_url: db-connection-exhaustion}
              - alert: AnythingSev1
                expr: up == 0
                labels: {severity: SEV1}
                annotations:
                  runbook_url: "https://runbooks.internal/db-connection-exhaustion.md#mitigate"
        """,
    )
    assert lint(config, path) == []


def test_paging_rule_without_runbook_url_points_at_its_alert_line(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: payments
            rules:
              - alert: WebhookBacklogHigh
                expr: payment_webhook_queue_depth > 1000
                labels:
                  service: payment-platform
                annotations:
                  summary: Payment webhook backlog
        """,
    )
    assert lint(config, path) == [
        f"{path}:4: alert 'WebhookBacklogHigh' pages as SEV2 (services/payment-platform alert rule 1) "
        "but has no annotations.runbook_url; add runbook_url: https://runbooks.internal/payment-webhook-backlog"
    ]


def test_runbook_url_to_an_unknown_runbook(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: db
            rules:
              - alert: DBConnectionsExhausted
                expr: x > 1
                annotations:
                  runbook_url: https://runbooks.internal/db-is-on-fire
              - alert: WebhookBacklogHigh
                expr: y > 1
                labels: {severity: sev2}
                annotations:
                  runbook_url: https://wiki.example.com/payment-webhook-backlog
        """,
    )
    findings = lint(config, path)
    assert len(findings) == 2
    assert findings[0].startswith(
        f"{path}:4: alert 'DBConnectionsExhausted' pages as SEV1 (services/payment-platform alert rule 2): "
        "runbook_url 'https://runbooks.internal/db-is-on-fire' does not name a runbook of the ops folder "
        "(use a slug or a URL under runbook_base_url https://runbooks.internal; "
        "runbooks: db-connection-exhaustion, payment-webhook-backlog)"
    )
    # A URL outside runbook_base_url does not count, even when its last segment is a slug.
    assert findings[1].startswith(
        f"{path}:8: alert 'WebhookBacklogHigh' pages as SEV2 (services/payment-platform alert rule 1): "
        "runbook_url 'https://wiki.example.com/payment-webhook-backlog' does not name a runbook"
    )


def test_non_paging_rules_need_no_runbook(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: misc
            rules:
              - alert: CsvExportSlow        # unmatched: payment-platform's default SEV3 does not page
                expr: x > 1
                labels: {service: payment-platform}
              - alert: StagingNoise
                expr: y > 1
                labels: {severity: SEV4}
              - alert: NoServiceNoSeverity
                expr: z > 1
              - alert: UnknownServiceLabel
                expr: z > 1
                labels: {service: some-k8s-service, severity: warning}
        """,
    )
    assert lint(config, path) == []


def test_a_severity_label_is_never_a_sev_and_a_sevn_label_routing_ignores_is_a_warning(
    tmp_path: Path, config: OpsConfig
) -> None:
    # issue 14, item 10: intake routes by alert_rules (else default_severity), never by the label
    assert pages(config, "Other", {"severity": "SEV1"}) is None
    assert pages(config, "Other", {"service": "payment-platform", "severity": "SEV2"}) is None
    path = write(
        tmp_path,
        """
        groups:
          - name: misc
            rules:
              - alert: Other
                expr: y > 1
                labels: {severity: SEV2}
              - alert: WebhookBacklogHigh
                expr: y > 1
                labels: {severity: SEV2}
                annotations: {runbook_url: payment-webhook-backlog}
        """,
    )
    assert lint(config, path) == []
    assert warnings(config, path) == [
        f"{path}:4: alert 'Other' has labels.severity SEV2, but commandpost takes the severity from the ops "
        "folder's alert_rules, never from a label: it routes as SEV3 (service payment-platform's "
        "default_severity), which does not page (SEV3 is handled within business hours); to page on it, "
        "add to services/payment-platform.yaml alert_rules: "
        "{match: {alertname: Other}, severity: SEV2, runbook: <runbook-slug>}"
    ]


def test_matching_rule_wins_over_a_lower_severity_label(config: OpsConfig) -> None:
    # Routing gives DBConnectionsExhausted SEV1 whatever the label says: it pages.
    assert pages(config, "DBConnectionsExhausted", {"severity": "SEV4"}) is not None
    assert pages(config, "DBConnectionsExhausted", {"service": "payment-platform", "severity": "warning"})
    assert pages(config, "SomethingElse", {"service": "payment-platform", "severity": "SEV3"}) is None


def test_templated_runbook_url_cannot_be_checked(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: g
            rules:
              - alert: WebhookBacklogHigh
                expr: x > 1
                annotations:
                  runbook_url: "https://runbooks.internal/{{ $labels.alertname }}"
        """,
    )
    [finding] = lint(config, path)
    assert finding.startswith(f"{path}:4:") and "is a template and cannot be checked" in finding


def test_yaml_error_is_reported_with_its_line(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: g
            rules:
              - alert: A
                expr: x > 1
                labels: [unclosed
        """,
    )
    [finding] = lint(config, path)
    assert finding.startswith(f"{path}:6: YAML syntax error: expected ',' or ']'")


def test_duplicate_keys_and_broken_shapes(tmp_path: Path, config: OpsConfig) -> None:
    path = write(
        tmp_path,
        """
        groups:
          - name: g
            rules:
              - alert: A
                alert: B
                expr: x
              - expr: no name
              - alert: C
                labels: [a, b]
          - name: h
            rules: {}
          - just a string
        """,
    )
    assert lint(config, path) == [
        f"{path}:5: duplicate key 'alert' (first defined on line 4)",
        f"{path}:7: a rule needs 'alert: <name>' (or 'record:' for a recording rule)",
        f"{path}:9: 'labels' must be a mapping of names to plain values",
        f"{path}:11: 'rules' must be a list",
        f"{path}:12: a group must be a mapping with 'name' and 'rules'",
    ]


def test_files_folders_and_kubernetes_prometheusrule(tmp_path: Path, config: OpsConfig) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    write(
        folder,
        """
        apiVersion: monitoring.coreos.com/v1
        kind: PrometheusRule
        metadata: {name: payments}
        spec:
          groups:
            - name: payments
              rules:
                - alert: DBConnectionsExhausted
                  expr: x > 1
        """,
        "k8s.yaml",
    )
    write(folder, "", "empty.yml")
    write(folder, "not: rules\n", "notes.txt")
    missing = tmp_path / "missing.yml"
    findings = lint(config, folder, missing)
    assert findings == [
        f"{missing}:0: no such file",
        f"{folder / 'k8s.yaml'}:8: alert 'DBConnectionsExhausted' pages as SEV1 "
        "(services/payment-platform alert rule 2) but has no annotations.runbook_url; "
        "add runbook_url: https://runbooks.internal/db-connection-exhaustion",
    ]


def test_not_a_rule_file(tmp_path: Path, config: OpsConfig) -> None:
    assert lint(config, write(tmp_path, "- a\n- b\n")) == [
        f"{tmp_path / 'rules.yml'}:1: a Prometheus rule file is a mapping with a 'groups' list"
    ]
    assert lint(config, write(tmp_path, "rules: []\n", "x.yml")) == [
        f"{tmp_path / 'x.yml'}:1: no 'groups' list: "
        "a Prometheus rule file is 'groups: [{name, rules: [...]}]'"
    ]
    binary = tmp_path / "b.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert lint(config, binary) == [f"{binary}:1: not UTF-8 text"]
