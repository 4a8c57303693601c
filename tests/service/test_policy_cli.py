"""``commandpost check | apply | init | integrations`` as a person runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from commandpost.errors import Conflict, NotFound, PolicyInvalid
from commandpost.policy import cli as policy_cli
from tests import cli_support
from tests.conftest import EXAMPLE_OPS, REPO

PACKAGED_EXAMPLE = REPO / "src" / "commandpost" / "policy" / "example"


def _app() -> typer.Typer:
    app = typer.Typer()
    policy_cli.register(app)
    return app


NTFY = "https://ntfy.example.com"


def invoke(*args: str) -> object:
    return CliRunner().invoke(_app(), list(args))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The console script's entry point (its error handling and exit codes)."""
    return cli_support.run_cli(
        args,
        # email and push on: without them, people.yaml's email contacts and ntfy topics are warnings
        # (test_smtp_warning.py)
        env={"COLUMNS": "300", "COMMANDPOST_SMTP_HOST": "smtp.example.com", "COMMANDPOST_NTFY_URL": NTFY},
        cwd=cwd,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_packaged_example_is_identical_to_examples_ops():
    """``init`` ships src/commandpost/policy/example; the repo keeps examples/ops. They are one tree."""
    assert _tree(PACKAGED_EXAMPLE) == _tree(EXAMPLE_OPS), (
        "copy examples/ops to src/commandpost/policy/example (rm -r the latter first)"
    )


def _fresh_copy(tmp_path: Path) -> Path:
    """examples/ops with its runbooks reviewed today: ``check`` reads the real clock, and the example's
    runbooks (last_updated 2026-11-01) turn stale — a warning — once runbook_max_age has passed."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    today = date.today().isoformat()
    for runbook in (ops / "runbooks").glob("*.md"):
        runbook.write_text(re.sub(r"\b2026-11-01\b", today, runbook.read_text()))
    return ops


def test_check_examples_ops_exits_0(tmp_path):
    result = run_cli("check", str(_fresh_copy(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid (0 errors, 0 warnings)" in result.stdout


def test_check_a_broken_copy_prints_every_error_and_exits_1(tmp_path):
    ops = _fresh_copy(tmp_path)
    policy = ops / "escalation" / "payment-platform.yaml"
    policy.write_text(policy.read_text().replace("escalate_after: 5m", "escalate_after: '5x'"))
    people = ops / "people.yaml"
    people.write_text(people.read_text().replace("members: [yuta, hana", "members: [yuta, bob, hana"))
    (ops / "commandpost.yaml").write_text(
        (ops / "commandpost.yaml").read_text().replace("timezone: Asia/Tokyo", "timezone: Mars/Olympus")
    )
    result = run_cli("check", "ops", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == [
        "ops/commandpost.yaml:3: timezone: 'Mars/Olympus' is not an IANA timezone "
        "(e.g. Asia/Tokyo, Europe/Berlin, UTC)",
        "ops/escalation/payment-platform.yaml:6: severity_routing.SEV1.escalate_after: '5x' is not a "
        "duration (use a number and a unit: 30s, 5m, 1h, 7d, 2w, or 1h30m)",
        "ops/people.yaml:59: team 'payments': unknown person 'bob' (people: hana, ken, mei, sato, yuta)",
    ]
    assert "error: ops: 3 errors, 0 warnings" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_json_and_strict(tmp_path, monkeypatch):
    monkeypatch.setenv("COMMANDPOST_SMTP_HOST", "smtp.example.com")  # else the email contacts warn too
    monkeypatch.setenv("COMMANDPOST_NTFY_URL", NTFY)  # and the ntfy topics
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "stray.yaml").write_text("a: 1\n")
    ok = invoke("check", str(ops), "--json")
    assert ok.exit_code == 0
    body = json.loads(ok.stdout)
    assert body["ok"] is True and body["errors"] == []
    assert body["warnings"] == [
        {
            "path": "stray.yaml",
            "line": 0,
            "message": "unknown file, ignored",
            "text": "stray.yaml:0: unknown file, ignored",
        }
    ]
    strict = invoke("check", str(ops), "--strict")
    assert isinstance(strict.exception, PolicyInvalid)
    assert "--strict: warnings fail" in strict.exception.message
    assert f"{ops}/stray.yaml:0: warning: unknown file, ignored" in strict.stdout


def test_init_writes_a_folder_that_checks_clean_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "new-ops"
    result = invoke("init", str(target))
    assert result.exit_code == 0, result.stdout
    assert _tree(target) == _tree(EXAMPLE_OPS)
    assert invoke("check", str(target)).exit_code == 0

    again = invoke("init", str(target))
    assert isinstance(again.exception, Conflict) and "not empty" in again.exception.message
    (target / "people.yaml").write_text("broken: [")
    assert invoke("init", str(target), "--force").exit_code == 0
    assert invoke("check", str(target)).exit_code == 0


def test_apply_prints_changes_then_no_changes(db_url, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    first = invoke("apply", str(ops), "--database-url", db_url)
    assert first.exit_code == 0, first.stdout
    assert "applied revision 1" in first.stdout
    assert "initial revision: 8 files" in first.stdout
    assert "integration payment-platform-generic: key generated (generic, payment-platform)" in first.stdout

    second = invoke("apply", str(ops), "--database-url", db_url)
    assert second.exit_code == 0
    assert "no changes: revision 1" in second.stdout

    severities = ops / "severities.yaml"
    severities.write_text(severities.read_text().replace("response_target: 15m", "response_target: 10m"))
    third = invoke("apply", str(ops), "--database-url", db_url)
    assert "applied revision 2" in third.stdout
    assert "changed severities.yaml: severities.SEV2" in third.stdout

    severities.write_text(severities.read_text().replace("response_target: 10m", "response_target: 10x"))
    broken = invoke("apply", str(ops), "--database-url", db_url)
    assert isinstance(broken.exception, PolicyInvalid)
    assert "nothing applied" in broken.exception.message
    assert f"{ops}/severities.yaml:" in broken.stdout


def test_integrations_list_and_rotate(db_url):
    assert invoke("apply", str(EXAMPLE_OPS), "--database-url", db_url).exit_code == 0
    listed = invoke("integrations", "list", "--json", "--database-url", db_url)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert len(rows) == 6  # five integrations and the heartbeat charge-ledger-reconciliation
    assert rows["charge-ledger-reconciliation"]["source"] == "heartbeat"
    generic = rows["payment-platform-generic"]
    assert (generic["source"], generic["service"]) == ("generic", "payment-platform")
    assert generic["intake_url"].endswith(f"/api/v1/intake/generic/{generic['key']}")
    assert rows["payment-platform-pagerduty"]["intake_url"].endswith("/v2/enqueue")

    table = CliRunner(env={"COLUMNS": "250", "TTY_COMPATIBLE": "1"}).invoke(
        _app(), ["integrations", "list", "--database-url", db_url]
    )
    assert table.exit_code == 0
    grafana = rows["payment-platform-grafana"]
    assert f"│ {grafana['key']} │ {grafana['intake_url']} " in table.stdout
    narrow = CliRunner(env={"COLUMNS": "80", "TTY_COMPATIBLE": "1"}).invoke(
        _app(), ["integrations", "list", "--database-url", db_url]
    )
    assert narrow.exit_code == 0
    for row in rows.values():  # too narrow for the table: nothing is cut short
        assert f"  key:        {row['key']}\n  intake URL: {row['intake_url']}\n" in narrow.stdout
    piped = CliRunner(env={"COLUMNS": "80"}).invoke(
        _app(), ["integrations", "list", "--database-url", db_url]
    )
    assert piped.exit_code == 0  # a pipe: one tab-separated line per integration, whole
    assert (
        f"{grafana['name']}\tgrafana\tpayment-platform\t{grafana['key']}\t{grafana['intake_url']}\n"
        in piped.stdout
    )

    rotated = invoke("integrations", "rotate", "payment-platform-generic", "--database-url", db_url)
    assert rotated.exit_code == 0
    after = {
        r["name"]: r
        for r in json.loads(invoke("integrations", "list", "--json", "--database-url", db_url).stdout)
    }
    assert after["payment-platform-generic"]["key"] != generic["key"]
    assert f"key: {after['payment-platform-generic']['key']}" in rotated.stdout
    assert after["payment-platform-grafana"]["key"] == rows["payment-platform-grafana"]["key"]

    missing = invoke("integrations", "rotate", "nope", "--database-url", db_url)
    assert isinstance(missing.exception, NotFound)


@pytest.mark.parametrize("args", [("integrations", "rotate", "nope")])
def test_errors_reach_the_person_without_a_traceback(args, db_url):
    result = cli_support.run_cli(args, env={"COMMANDPOST_DATABASE_URL": db_url})
    assert result.returncode == 4
    assert "no active integration named 'nope'" in result.stderr and "Traceback" not in result.stderr
