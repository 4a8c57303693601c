"""``commandpost check ops/ --prometheus-rules FILES`` through the console script's entry point."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from tests import cli_support
from tests.conftest import EXAMPLE_OPS

GOOD = """
groups:
  - name: payments
    rules:
      - alert: WebhookBacklogHigh
        expr: payment_webhook_queue_depth > 1000
        labels: {service: payment-platform}
        annotations:
          runbook_url: https://runbooks.internal/payment-webhook-backlog
"""

BAD = """
groups:
  - name: db
    rules:
      - alert: DBConnectionsExhausted
        expr: pg_connections_used_ratio > 0.95
        labels: {service: payment-platform}
"""


def run_check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_support.run_cli(["check", str(EXAMPLE_OPS), *args], env={"COLUMNS": "300"}, cwd=cwd)


def test_good_rules_pass_and_a_missing_runbook_fails_with_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.yml").write_text(textwrap.dedent(BAD))

    ok = run_check("--prometheus-rules", "good.yml", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "is valid" in ok.stdout

    failed = run_check("--prometheus-rules", "good.yml", "--prometheus-rules", "bad.yml", cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    output = failed.stdout + failed.stderr
    assert f"{tmp_path / 'bad.yml'}:5: alert 'DBConnectionsExhausted' pages as SEV1" in output
    assert "good.yml" not in output


def test_json_output_lists_rule_findings(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(textwrap.dedent(BAD))
    result = run_check("--json", "--prometheus-rules", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    [error] = report["errors"]
    assert (error["path"], error["line"]) == (str(tmp_path / "bad.yml"), 5)
    assert "add runbook_url: https://runbooks.internal/db-connection-exhaustion" in error["message"]
