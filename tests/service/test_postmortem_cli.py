"""``commandpost postmortem|action|actions|postmortems`` as a person runs them: the console script
(in this process, tests/cli_support.py) talking to a real uvicorn server (frozen clock) through
``client.py`` (COMMANDPOST_URL / TOKEN), both databases."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from commandpost.db.engine import transaction
from commandpost.incidents import timeline
from tests import cli_support
from tests.api.test_postmortem_api import FILLED
from tests.service.test_postmortem_draft import run_criteria, script_webhook_backlog


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def cli(app, applied_ops, make_token, sessions, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    script_webhook_backlog(sessions, clock)
    run_criteria(sessions, clock)
    tokens = {who: make_token("responder", person=who) for who in ("yuta", "hana", "ken")}
    with _serve(app) as url:

        def run(*args: str, who: str = "yuta", stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            env = {
                "COMMANDPOST_URL": url,
                "COMMANDPOST_TOKEN": tokens[who],
                "HOME": str(tmp_path),
                "TZ": "UTC",
                "COLUMNS": "200",
            }
            return cli_support.run_cli(args, env=env, stdin=stdin, cwd=tmp_path)

        yield run


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_a_postmortem_is_taken_to_final_from_the_command_line(cli, tmp_path, sessions):
    shown = _ok(cli("postmortem", "show", "INC-1"))
    assert "Postmortem INC-1" in shown and "Draft" in shown
    assert "required: SEV2; manual intervention at 12:21 by @ken" in shown
    assert "to fill: user_impact, business_impact, root_cause" in shown
    md = _ok(cli("postmortem", "show", "INC-1", "--format", "md"))
    assert md.startswith("# Postmortem: Payment webhook backlog above 1,000 (SEV2)\n")
    assert "- 12:21 **action** @ken: rolled back payment-webhook-consumer to task definition :41" in md

    vague = cli(
        "action", "add", "INC-1", "Be careful when deploying the consumer", "--type", "process",
        "--owner", "ken", "--due", "2026-12-15", "--ticket", "OPS-1",
    )  # fmt: skip
    assert vague.returncode == 2
    assert "action item is not SMART — Specific (title): 'be careful' is vague wording" in vague.stderr
    ownerless = cli("action", "add", "INC-1", "Add a DLQ depth panel to the dashboard", "--type", "process")
    assert ownerless.returncode == 2 and "Assigned (owner): an owner is required" in ownerless.stderr
    added = _ok(
        cli(
            "action", "add", "INC-1", "Park unknown webhook event types in the DLQ instead of crashing",
            "--type", "prevent", "--owner", "@ken", "--due", "2026-12-15", "--ticket", "ops-123",
            "--verification", "replay a dispute event in staging and confirm the consumer stays up",
            "--runbook", "payment-webhook-backlog",
        )
    )  # fmt: skip
    assert added.startswith("action item #1 on INC-1: @ken by 2026-12-15 (OPS-123)")

    (tmp_path / "root.md").write_text(FILLED["root_cause"], encoding="utf-8")
    _ok(cli("postmortem", "edit-section", "INC-1", "root-cause", "--file", str(tmp_path / "root.md")))
    _ok(cli("postmortem", "edit-section", "INC-1", "went_poorly", stdin="Hana forgot to check the DLQ."))
    for name in (
        "user_impact",
        "business_impact",
        "technical_factor",
        "process_factor",
        "went_well",
        "got_lucky",
    ):
        _ok(cli("postmortem", "edit-section", "INC-1", name, FILLED[name]))

    submitted = _ok(cli("postmortem", "submit", "INC-1", "--reviewer", "hana"))
    assert "In Review; reviewer @hana" in submitted
    assert "blameless warning: went_poorly: “Hana forgot to check the DLQ.”" in submitted
    not_reviewer = cli("postmortem", "approve", "INC-1")
    assert not_reviewer.returncode == 3
    assert "only the reviewer @hana approves the postmortem of INC-1; you are @yuta" in not_reviewer.stderr
    _ok(cli("postmortem", "edit-section", "INC-1", "went_poorly", FILLED["went_poorly"]))
    approved = _ok(cli("postmortem", "approve", "INC-1", who="hana"))
    assert "Final (revision 1), approved by @hana" in approved

    finals = json.loads(_ok(cli("postmortems", "--final", "--since", "30d", "--json")))
    assert [(p["number"], p["status"], p["revision"]) for p in finals] == [("INC-1", "final", 1)]
    assert "INC-1" in _ok(cli("postmortems", "--final"))

    edited = _ok(cli("postmortem", "edit-section", "INC-1", "got_lucky", "It happened at noon, JST."))
    assert "Final (revision 2)" in edited
    revisions = json.loads(_ok(cli("postmortem", "revisions", "INC-1", "--json")))
    assert [r["revision"] for r in revisions] == [1, 2]

    exported = cli("postmortem", "export", "INC-1", "-o", "wiki/2026/inc-1.md")
    assert exported.returncode == 0 and "wrote wiki/2026/inc-1.md (Final" in exported.stderr
    assert (tmp_path / "wiki" / "2026" / "inc-1.md").read_text(encoding="utf-8") == _ok(
        cli("postmortem", "show", "INC-1", "--format", "md")
    )
    unwritable = cli("postmortem", "export", "INC-1", "-o", "wiki/2026")  # a folder
    assert unwritable.returncode == 2 and "cannot write wiki/2026" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr
    first = _ok(cli("postmortem", "show", "INC-1", "--format", "md", "--revision", "1"))
    assert FILLED["got_lucky"] in first and "It happened at noon" not in first

    reopened = _ok(cli("postmortem", "reopen", "INC-1", "--to", "in_review"))
    assert "In Review" in reopened


def test_action_items_are_tracked_to_done(cli):
    _ok(
        cli(
            "action", "add", "INC-1", "Add a DLQ depth panel to the payments dashboard", "--type", "process",
            "--owner", "mei", "--due", "2026-12-01", "--ticket", "https://tickets.example.com/OPS-7",
        )
    )  # fmt: skip
    listed = json.loads(_ok(cli("actions", "--json")))
    assert [(i["id"], i["owner"], i["status"], i["overdue"]) for i in listed] == [(1, "mei", "open", False)]
    assert "no action items match" in cli("actions", "--overdue").stderr  # a pipe: stdout stays data
    assert "Add a DLQ depth panel" in _ok(cli("actions", "--owner", "@mei"))
    assert "no action items match" in cli("actions", "--owner", "ken").stderr
    assert "Add a DLQ depth panel" in _ok(cli("action", "list", "INC-1"))

    bad = cli("action", "update", "1", "--due", "2026-01-01")
    assert bad.returncode == 2 and "Time-bound (due): due 2026-01-01 is not in the future" in bad.stderr
    assert "in_progress" in _ok(cli("action", "update", "1", "--status", "in_progress"))
    assert "action item #1 is done" in _ok(cli("action", "done", "1"))
    assert json.loads(_ok(cli("action", "list", "INC-1", "--json")))[0]["status"] == "done"
    missing = cli("action", "done", "42")
    assert missing.returncode == 4 and "no action item #42" in missing.stderr


def test_action_with_an_incident_number_still_records_on_the_live_timeline(cli, sessions):
    recorded = cli("action", "INC-1", "re-injected the DLQ events", who="ken")
    assert recorded.returncode == 0, recorded.stderr
    assert "action recorded on INC-1" in recorded.stdout
    with transaction(sessions) as s:
        last = timeline.all_entries(s, incident=timeline.incident(s, number=1))[-1]
    assert (last.kind, last.author, last.text) == ("action", "ken", "re-injected the DLQ events")
    refused = cli("action", "INC-1", "restarted the consumer")  # @yuta does not hold Ops
    assert refused.returncode == 3 and "only the Ops holder records actions on INC-1" in refused.stderr


def test_errors_are_one_line_with_the_right_exit_code(cli):
    unknown = cli("postmortem", "show", "INC-9")
    assert unknown.returncode == 4 and "no incident INC-9" in unknown.stderr
    early = cli("postmortem", "approve", "INC-1", who="hana")
    assert early.returncode == 5 and "is Draft; it cannot approve (possible now: submit)" in early.stderr
    fmt = cli("postmortem", "show", "INC-1", "--format", "pdf")
    assert fmt.returncode == 2 and "--format must be text, md or json" in fmt.stderr
    for result in (unknown, early, fmt):
        assert "Traceback" not in result.stderr
