"""Email contacts without SMTP (issue 14, item 18): a ``check`` warning and a ``/readyz`` detail.

Without ``COMMANDPOST_SMTP_HOST`` every email commandpost sends becomes a dead letter ("email is not
configured"), while people.yaml gives people email contacts that pages and notices go to. Nothing
said so before the first page went missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from commandpost.app import create_app
from commandpost.policy.loader import load_ops
from commandpost.settings import Settings
from tests import cli_support
from tests.conftest import EXAMPLE_OPS
from tests.paging_support import ops_variant

WARNING = (
    "email is off (COMMANDPOST_SMTP_HOST is not set), but 5 people have an email contact (hana, ken, "
    "mei, sato, yuta): every email to them becomes a dead letter; set COMMANDPOST_SMTP_HOST (and "
    "COMMANDPOST_SMTP_FROM) where commandpost runs, or remove the email contacts"
)


def fresh_copy(tmp_path: Path) -> Path:
    """examples/ops with its runbooks reviewed today (``check`` reads the real clock: no stale warning)."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    for runbook in (ops / "runbooks").glob("*.md"):
        runbook.write_text(re.sub(r"\b2026-11-01\b", date.today().isoformat(), runbook.read_text()))
    return ops


def run_check(ops: Path, *args: str, smtp_host: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "COLUMNS": "300",
        "COMMANDPOST_SMTP_HOST": smtp_host,
        "COMMANDPOST_NTFY_URL": "https://ntfy.example.com",
    }
    return cli_support.run_cli(["check", str(ops), *args], env=env)


def email_line(ops: Path) -> int:
    lines = (ops / "people.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "email:" in line)


def test_check_warns_when_people_have_email_and_smtp_is_off(tmp_path):
    ops = fresh_copy(tmp_path)
    result = run_check(ops)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ops}/people.yaml:{email_line(ops)}: warning: {WARNING}" in result.stdout
    assert "(0 errors, 1 warning)" in result.stdout
    strict = run_check(ops, "--strict")
    assert strict.returncode == 1
    configured = run_check(ops, "--strict", smtp_host="smtp.example.com")
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert "(0 errors, 0 warnings)" in configured.stdout


def test_only_email_that_would_be_sent_counts(tmp_path):
    def no_email_but_sato_for_sev4(people: dict[str, Any]) -> None:
        for person in people["people"]:
            if person["handle"] != "sato":
                person["contact"].pop("email", None)
        sato = next(p for p in people["people"] if p["handle"] == "sato")
        # sato's notify lists every severity and never email: his address is never used …
        sato["notify"] = {sev: ["slack"] for sev in ("SEV1", "SEV2", "SEV3", "SEV4")}

    ops = ops_variant(tmp_path / "a", {"people.yaml": no_email_but_sato_for_sev4})
    assert [w for w in load_ops(ops, smtp_configured=False).warnings if "SMTP" in w.message] == []

    def team_channel_email(people: dict[str, Any]) -> None:
        no_email_but_sato_for_sev4(people)
        people["teams"][0]["channel"]["email"] = "payments@example.com"

    ops = ops_variant(tmp_path / "b", {"people.yaml": team_channel_email})
    found = [w.message for w in load_ops(ops, smtp_configured=False).warnings if "SMTP" in w.message]
    assert found == [
        "email is off (COMMANDPOST_SMTP_HOST is not set), but 1 team channel has an email address "
        "(payments): every email to it becomes a dead letter; set COMMANDPOST_SMTP_HOST (and "
        "COMMANDPOST_SMTP_FROM) where commandpost runs, or remove the email contacts"
    ]
    # … and with SMTP configured, or not asked about (apply, the server), nothing is said
    assert not [w for w in load_ops(ops, smtp_configured=True).warnings if "SMTP" in w.message]
    assert not [w for w in load_ops(ops).warnings if "SMTP" in w.message]


def test_readyz_says_email_is_off_without_failing_readiness(client, applied_ops):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert body["checks"]["email"] == f"warning: {WARNING}"


def test_readyz_names_the_smtp_server_when_configured(db_url, engine, clock, applied_ops):
    settings = Settings(
        database_url=db_url, engine_enabled=False, smtp_host="smtp.example.com", smtp_port=587
    )
    app = create_app(settings, clock=clock, engine=engine, run_engine=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        body = c.get("/readyz").json()
    assert body["ready"] is True
    assert body["checks"]["email"] == "ok: SMTP smtp.example.com:587"
