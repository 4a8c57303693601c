"""``commandpost runbook …`` and ``commandpost step`` as a person (or a CI job) runs them.

Local verbs on files (lint, new, --ops); API verbs through the real client against the app on
both databases, with a frozen clock."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from commandpost.client import Client
from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.errors import Conflict, Forbidden, NotFound, PolicyInvalid, Unavailable, ValidationFailed
from commandpost.incidents import service as incidents
from commandpost.incidents import timeline
from commandpost.policy import cli as policy_cli
from commandpost.policy import service as policy_service
from commandpost.runbooks import cli as runbook_cli
from commandpost.runbooks import service as runbook_service
from commandpost.runbooks.lint import lint_runbooks
from tests.conftest import EXAMPLE_OPS, REPO
from tests.factories import make_incident

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SLUG = "payment-webhook-backlog"
BROKEN = REPO / "tests" / "fixtures" / "runbooks" / "broken"


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    clock = FrozenClock(NOW)
    monkeypatch.setattr(runbook_cli, "_clock", clock)
    return clock


def invoke(*args: str) -> Result:
    app = typer.Typer()
    runbook_cli.register(app)
    policy_cli.register(app)
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    return ops


# ---------------------------------------------------------------- local: lint and new


def test_lint_examples_clean_and_strict() -> None:
    for args in (
        ("runbook", "lint", str(EXAMPLE_OPS)),
        ("runbook", "lint", "--strict", str(EXAMPLE_OPS / "runbooks")),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""


def test_lint_formats_and_exit_codes(folder: Path, frozen: FrozenClock) -> None:
    runbook = folder / "runbooks" / "db-connection-exhaustion.md"
    runbook.write_text(runbook.read_text().replace("owner: payments", "owner: paymnts"))
    rel = "runbooks/db-connection-exhaustion.md"
    text = invoke("runbook", "lint", str(folder))
    assert text.exit_code == 1
    assert text.stdout.splitlines() == [
        f"{folder}/{rel}:3: RB002 owner 'paymnts' is neither a team nor a person of people.yaml "
        "(engineering-management, hana, ken, mei, payments, sato, yuta)"
    ]
    github = invoke("runbook", "lint", "--format", "github", str(folder / "runbooks"))
    assert github.exit_code == 1
    assert github.stdout.startswith(
        f"::error file={folder}/{rel},line=3,title=RB002 invalid-owner::owner 'paymnts' is neither"
    )
    frozen.set(datetime(2027, 3, 1, tzinfo=UTC))  # now both are stale too
    as_json = invoke("runbook", "lint", "--format", "json", str(folder))
    found = json.loads(as_json.stdout)
    assert [(f["rule"], f["severity"]) for f in found] == [
        ("RB002", "error"),
        ("RB014", "warning"),
        ("RB014", "warning"),
    ]
    runbook.write_text(runbook.read_text().replace("owner: paymnts", "owner: payments"))
    assert invoke("runbook", "lint", str(folder)).exit_code == 0  # stale is a warning …
    strict = invoke("runbook", "lint", "--strict", "--format", "github", str(folder))
    assert strict.exit_code == 1  # … and an error with --strict
    assert (
        strict.stdout.count("::error ") == 2
        and "title=RB014 stale::stale: last updated 2026-11-01" in strict.stdout
    )
    bad = invoke("runbook", "lint", "--format", "xml", str(folder))
    assert isinstance(bad.exception, ValidationFailed)
    missing = invoke("runbook", "lint", str(folder / "nope"))
    assert isinstance(missing.exception, NotFound)


def test_check_runs_the_runbook_lint(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDPOST_SMTP_HOST", "smtp.example.com")  # else the email contacts warn too
    monkeypatch.setenv("COMMANDPOST_NTFY_URL", "https://ntfy.example.com")  # and the ntfy topics
    runbook = folder / "runbooks" / "db-connection-exhaustion.md"
    lines = [line for line in runbook.read_text().splitlines() if not line.startswith("## 4. Verify")]
    runbook.write_text("\n".join(lines) + "\n")
    comms = next(n for n, line in enumerate(lines, 1) if line.startswith("## 5. Comms"))
    result = invoke("check", str(folder))
    assert isinstance(result.exception, PolicyInvalid) and "1 error, 0 warnings" in result.exception.message
    assert result.stdout.splitlines() == [
        f"{folder}/runbooks/db-connection-exhaustion.md:{comms}: "
        "RB009 missing section 4. Verify (add '## 4. Verify')"
    ]


def test_check_reports_an_unreadable_runbook_once_and_does_not_crash(folder: Path) -> None:
    runbook = folder / "runbooks" / "db-connection-exhaustion.md"
    runbook.write_bytes(runbook.read_bytes().replace(b"owner: payments", b"owner: pay\xffments"))
    result = invoke("check", str(folder))
    assert isinstance(result.exception, PolicyInvalid)
    [line] = [x for x in result.stdout.splitlines() if "db-connection-exhaustion.md" in x]
    assert line.startswith(f"{folder}/runbooks/db-connection-exhaustion.md:1: not UTF-8 text")
    lint = invoke("runbook", "lint", str(runbook))
    assert lint.exit_code == 1 and lint.stdout.startswith(f"{runbook}:3: RB000 not UTF-8 text")


def test_lint_with_the_database_adds_rb015(db_url: str, sessions, clock) -> None:  # type: ignore[no-untyped-def]
    """``--database-url``: a postmortem's update request (written as postmortems write it) fails the lint."""
    clock.set(NOW)
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=NOW, actor="test")
    assert invoke("runbook", "lint", str(EXAMPLE_OPS), "--database-url", db_url).exit_code == 0
    with transaction(sessions) as s:
        number = make_incident(s, now=datetime(2026, 11, 19, 3, 0, tzinfo=UTC)).number
    with transaction(sessions) as s:
        resolved = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
        incident = timeline.incident(s, number=number)
        incidents.change_status(s, incident=incident, status="resolved", actor="yuta", now=resolved)
        runbook_service.request_update(
            s, slug=SLUG, incident=incident, source="postmortem action item #3", by="yuta", now=NOW
        )
    result = invoke("runbook", "lint", str(EXAMPLE_OPS), "--database-url", db_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{EXAMPLE_OPS}/runbooks/{SLUG}.md:4: RB015 postmortem action item #3 of INC-1 (resolved 2026-11-20) "
        "asked for an update: update the runbook, then bump last_updated"
    ]
    assert invoke("runbook", "lint", str(EXAMPLE_OPS)).exit_code == 0  # files alone: no RB015


def test_lint_with_a_wrong_database_says_so_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = invoke("runbook", "lint", str(EXAMPLE_OPS), "--database-url", f"sqlite:///{missing}")
    assert isinstance(result.exception, NotFound) and "no SQLite database at" in result.exception.message
    assert not missing.exists()  # read-only: the file is not created
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    result = invoke("runbook", "lint", str(EXAMPLE_OPS), "--database-url", f"sqlite:///{empty}")
    assert isinstance(result.exception, Unavailable)
    assert "no such table: ops_revision" in result.exception.message and "commandpost db upgrade" in (
        result.exception.message
    )
    refused = invoke(
        "runbook", "lint", str(EXAMPLE_OPS), "--database-url", "postgresql://u:secret@127.0.0.1:9/x"
    )
    assert isinstance(refused.exception, Unavailable) and "secret" not in refused.exception.message
    bad = invoke("runbook", "lint", str(EXAMPLE_OPS), "--database-url", "nonsense")
    assert isinstance(bad.exception, ValidationFailed) and "is not a database URL" in bad.exception.message


def test_new_writes_a_skeleton_that_lints_clean(folder: Path) -> None:
    target = folder / "runbooks" / "queue-stuck.md"
    args = ("runbook", "new", "queue-stuck", "--service", "payment-platform", "--alert", "QueueStuck")
    result = invoke(*args, "--severity", "SEV2", "--dir", str(folder / "runbooks"))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "owner: payments\nlast_updated: 2026-11-27\nservice: payment-platform\nslo: availability\n" in text
    assert lint_runbooks(target, today=date(2026, 11, 27), strict=True) == []
    assert invoke("runbook", "lint", "--strict", str(target)).exit_code == 0
    again = invoke(*args, "--severity", "SEV2", "--dir", str(folder / "runbooks"))
    assert isinstance(again.exception, Conflict) and "exists; use --force" in again.exception.message
    unknown = invoke(
        "runbook",
        "new",
        "x",
        "--service",
        "billing",
        "--alert",
        "A",
        "--severity",
        "SEV3",
        "--dir",
        str(folder / "runbooks"),
    )
    assert isinstance(unknown.exception, ValidationFailed)
    assert (
        "unknown service 'billing'" in unknown.exception.message
        and "payment-platform" in unknown.exception.message
    )


def test_offline_list_show_and_coverage(folder: Path) -> None:
    listed = json.loads(invoke("runbook", "list", "--ops", str(folder), "--json").stdout)
    assert [(r["slug"], r["lint_errors"], r["age_days"]) for r in listed] == [
        ("db-connection-exhaustion", 0, 26),
        (SLUG, 0, 26),
    ]
    shown = invoke("runbook", "show", SLUG, "--ops", str(folder))
    assert shown.exit_code == 0, shown.output
    assert "3. Mitigate" in shown.stdout and "aws ecs update-service" in shown.stdout
    assert "What you must never do" in shown.stdout
    missing = invoke("runbook", "show", "nope", "--ops", str(folder))
    assert isinstance(missing.exception, NotFound)
    assert invoke("runbook", "coverage", "--ops", str(folder), "--strict").exit_code == 0
    service = folder / "services" / "payment-platform.yaml"
    service.write_text(service.read_text().replace("    runbook: db-connection-exhaustion\n", ""))
    failed = invoke("runbook", "coverage", "--ops", str(folder), "--strict")
    assert failed.exit_code == 1 and "DBConnectionsExhausted (SEV1): no runbook" in failed.stdout


# ---------------------------------------------------------------- through the API


@pytest.fixture
def api(client, clock, sessions, make_token, monkeypatch) -> Callable[[str], None]:  # type: ignore[no-untyped-def]
    """Apply the example ops, declare INC-1 (IC @yuta); ``api("hana")`` makes the CLI call as @hana."""
    clock.set(NOW)
    with sessions() as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=NOW, actor="test")
        s.commit()
    tokens = {p: make_token("responder", person=p) for p in ("yuta", "hana")}
    who = {"person": "yuta"}

    def relay(request: httpx.Request) -> httpx.Response:  # the CLI's requests, answered by the app
        answer = client.request(
            request.method, str(request.url), headers=request.headers, content=request.content
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def _client() -> Client:
        return Client("http://testserver", tokens[who["person"]], transport=httpx.MockTransport(relay))

    monkeypatch.setattr(runbook_cli, "_client", _client)
    body = {"title": "Webhooks failing", "severity": 2, "service": "payment-platform"}
    headers = {"Authorization": f"Bearer {tokens['yuta']}"}
    assert client.post("/api/v1/incidents", json=body, headers=headers).status_code == 201

    def as_person(person: str) -> None:
        who["person"] = person

    return as_person


def test_step_through_the_cli_writes_state_and_timeline(api) -> None:  # type: ignore[no-untyped-def]
    attached = invoke("runbook", "attach", "INC-1", SLUG)
    assert attached.exit_code == 0, attached.output
    assert "0/7 done" in attached.stdout
    api("hana")
    refused = invoke("step", "1", SLUG, "3.3", "done")
    assert (
        isinstance(refused.exception, Forbidden)
        and "Ops is held by the IC @yuta" in refused.exception.message
    )
    verify = invoke("step", "1", SLUG, "4.1", "done", "--note", "depth normal")
    assert verify.exit_code == 0, verify.output
    assert (
        verify.stdout.startswith(f"INC-1 {SLUG} 4.1-") and " done: The queue depth returns" in verify.stdout
    )
    api("yuta")
    first = invoke("step", "INC-1", SLUG, "3.3", "done", "--json")
    assert first.exit_code == 0 and json.loads(first.stdout)["step"]["state"]["by"] == "yuta"
    unknown = invoke("step", "1", SLUG, "3.9", "done")
    assert isinstance(unknown.exception, NotFound) and "its steps: 3.1-" in unknown.exception.message
    [checklist] = json.loads(invoke("runbook", "checklist", "1", "--json").stdout)
    assert checklist["progress"]["done"] == 2 and checklist["sections"][0]["name"] == "Mitigate"
    shown = invoke("runbook", "checklist", "1")
    assert "2/7 done" in shown.stdout and "done by @hana" in shown.stdout and "depth normal" in shown.stdout
    entries = _timeline()
    assert [(e["author"], e["data"]["state"]) for e in entries if e["kind"] == "runbook_step"] == [
        ("hana", "done"),
        ("yuta", "done"),
    ]


def _timeline() -> list[dict[str, Any]]:
    """INC-1's timeline, read through the same client the CLI uses."""
    with runbook_cli._client() as c:
        entries: list[dict[str, Any]] = c.get("/api/v1/incidents/INC-1/timeline", limit=500)["entries"]
        return entries


def test_list_show_coverage_and_toil_through_the_api(api) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(invoke("runbook", "list", "--json").stdout)
    assert [r["slug"] for r in listed] == ["db-connection-exhaustion", SLUG]
    shown = json.loads(invoke("runbook", "show", SLUG, "--json").stdout)
    assert shown["first_move"]["text"].startswith("First move: scale out")
    covered = invoke("runbook", "coverage", "--strict", "--json")
    assert covered.exit_code == 0 and json.loads(covered.stdout)["never_used"] == [
        "db-connection-exhaustion",
        SLUG,
    ]
    invoke("runbook", "attach", "1", SLUG)
    invoke("step", "1", SLUG, "3.3", "done")
    toil = json.loads(invoke("runbook", "toil", "--min-incidents", "1", "--json").stdout)
    assert [(t["slug"], t["step_id"][:3], t["incidents"]) for t in toil] == [(SLUG, "3.3", 1)]
    assert "no step with a command" in invoke("runbook", "toil").output  # on stderr in a pipe
