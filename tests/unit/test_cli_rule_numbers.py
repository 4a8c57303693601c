"""A rule number a person reads counts from 1 (issue 14, item 18): ``check`` names the first alert
rule of a service "alert rule 1", with or without ``--prometheus-rules``. (The API's ``rule`` of an
alert is tested in tests/api/test_cli_terminal_output.py; YAML paths such as ``alert_rules[0].severity``
are indexes, 0-based as in every path commandpost prints, and say so by their brackets.)"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import yaml

from tests import cli_support
from tests.conftest import EXAMPLE_OPS

# Two paging alerts of payment-platform without a runbook_url: its alert rules 1 and 2 route them.
RULES = """
groups:
  - name: payments
    rules:
      - alert: WebhookBacklogHigh
        expr: payment_webhook_queue_depth > 1000
        labels: {service: payment-platform}
      - alert: DBConnectionsExhausted
        expr: pg_connections_used_ratio > 0.95
        labels: {service: payment-platform}
"""


def run_check(folder: Path, *args: str) -> str:
    done = cli_support.run_cli(["check", str(folder), *args], env={"COLUMNS": "400"}, cwd=folder.parent)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


def test_prometheus_rules_lint_names_the_routing_rule_from_1(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(textwrap.dedent(RULES), encoding="utf-8")
    output = run_check(EXAMPLE_OPS, "--prometheus-rules", str(tmp_path / "rules.yml"))
    assert "alert 'WebhookBacklogHigh' pages as SEV2 (services/payment-platform alert rule 1)" in output
    assert "alert 'DBConnectionsExhausted' pages as SEV1 (services/payment-platform alert rule 2)" in output
    assert "alert_rules[" not in output


def test_check_names_an_unnamed_alert_rule_from_1(tmp_path: Path) -> None:
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    path = folder / "services" / "payment-platform.yaml"
    service = yaml.safe_load(path.read_text(encoding="utf-8"))
    service["alert_rules"][0] = {"match": {"labels": {"queue": "webhooks"}}, "severity": "SEV2"}
    path.write_text(yaml.safe_dump(service, sort_keys=False), encoding="utf-8")
    output = run_check(folder)
    assert "alert rule 1 pages (SEV2) but names no runbook" in output
    assert "alert rule 0" not in output
