"""The incident CLI end to end: a real uvicorn server on 127.0.0.1, the commands run as a client of it.

Commands run in-process through Typer's CliRunner with ``COMMANDPOST_URL``/``COMMANDPOST_TOKEN``;
two run the installed ``commandpost`` executable to check the red error line and exit codes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from commandpost import client as client_module
from commandpost.errors import Forbidden, InvalidTransition, Unauthorized, Unavailable, ValidationFailed
from commandpost.incidents import cli as incidents_cli
from commandpost.settings import Settings

EXECUTABLE = Path(sys.executable).parent / "commandpost"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(app, applied_ops) -> Iterator[str]:
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:  # waiting for the server to bind, not for the behaviour under test
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def cli_app() -> typer.Typer:
    app = typer.Typer()
    incidents_cli.register(app)
    return app


@pytest.fixture
def run(cli_app, server, make_token, tmp_path):
    """``run("declare", "x", person="hana")`` → the CliRunner result, as that person."""
    tokens: dict[str, str] = {}

    def invoke(*args: str, person: str = "yuta"):
        if person not in tokens:
            tokens[person] = make_token("responder", person=person)
        env = {
            "COMMANDPOST_URL": server,
            "COMMANDPOST_TOKEN": tokens[person],
            "COMMANDPOST_CONFIG_FILE": str(tmp_path / "absent.toml"),
            "COLUMNS": "200",
        }
        return CliRunner().invoke(cli_app, list(args), env=env)

    return invoke


def _ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_declare_answers_number_channel_ic_and_next_steps(run):
    out = _ok(run("declare", "Payment webhooks failing", "--sev", "2", "--service", "payment-platform"))
    assert out.splitlines() == [
        "INC-1 declared · SEV2 · payment-platform · Payment webhooks failing",
        "  command post  #inc-2026-06-24-payment-webhooks-failing",
        "  IC            @yuta",
        "  paging        paging the on-call of payment-platform per its escalation policy "
        "(skipping you if you are on call)",
        "next:",
        "  1. join the command post #inc-2026-06-24-payment-webhooks-failing",
        "  2. the on-call is being paged: brief them when they ack",
        "  3. open the service's runbook (none linked yet)",
        "  4. post the initial comms: commandpost comms INC-1 initial",
    ]
    data = json.loads(_ok(run("declare", "Receipts missing", "--sev", "SEV3", "--ic", "hana", "--json")))
    assert (data["number"], data["ic"], data["severity"]) == ("INC-2", "hana", "SEV3")


def test_listing_and_show_with_json(run):
    _ok(run("declare", "Payment webhooks failing", "--sev", "1", "--service", "payment-platform"))
    _ok(run("declare", "Receipts missing", "--sev", "3"))
    table = _ok(run("incidents"))
    assert "INC-2" in table and "INC-1" in table and "Payment webhooks failing" in table
    rows = json.loads(_ok(run("incidents", "--sev", "1", "--json")))
    assert [r["number"] for r in rows] == ["INC-1"]
    rows = json.loads(_ok(run("incidents", "--status", "open", "--service", "payment-platform", "--json")))
    assert [r["number"] for r in rows] == ["INC-1"]
    bad = run("incidents", "--sev", "9")
    assert isinstance(bad.exception, ValidationFailed)
    assert "valid: SEV1, SEV2, SEV3, SEV4" in bad.exception.message and bad.exception.exit_code == 2
    shown = _ok(run("incident", "show", "1"))
    assert "INC-1 Payment webhooks failing" in shown and "@yuta" in shown
    data = json.loads(_ok(run("incident", "show", "INC-1", "--json")))
    assert data["roles"][1] == {
        **data["roles"][1],
        "role": "ops",
        "holder": "yuta",
        "held_by_ic_by_default": True,
    }


def test_status_severity_entries_roles_and_comms(run):
    _ok(run("declare", "Payment webhooks failing", "--sev", "2", "--service", "payment-platform"))
    assert _ok(run("sev", "INC-1", "1", "--reason", "all charging fails")).startswith("INC-1 is SEV1")
    assert _ok(run("note", "1", "queue at 100k")).startswith("#5 note recorded on 1")
    assert "decision recorded" in _ok(run("decide", "1", "fail over to the standby queue"))
    assert "action recorded" in _ok(run("action", "1", "failover started"))
    _ok(run("role", "assign", "1", "ops", "mei"))
    refused = run("action", "1", "restarted workers")
    assert isinstance(refused.exception, Forbidden) and refused.exception.exit_code == 3
    assert "Ops is held by @mei" in refused.exception.message
    assert "action recorded" in _ok(run("action", "1", "restarted workers", person="mei"))
    offered = _ok(run("role", "offer", "1", "ic", "hana"))
    assert offered.startswith("IC offered to @hana until 12:15:00 JST")
    wrong = run("role", "accept", "1", "ic", person="ken")
    assert isinstance(wrong.exception, Forbidden) and "is for @hana" in wrong.exception.message
    assert _ok(run("role", "accept", "1", "ic", person="hana")).startswith("you (@hana) now hold IC on 1")
    _ok(run("role", "offer", "1", "comms", "sato", person="hana"))
    assert "declined COMMS" in _ok(run("role", "decline", "1", "comms", person="sato"))
    held = json.loads(_ok(run("role", "list", "1", "--json")))
    assert [(r["role"], r["holder"]) for r in held] == [
        ("ic", "hana"),
        ("ops", "mei"),
        ("comms", "hana"),
        ("planning", "hana"),
    ]
    posted = _ok(run("comms", "1", "initial", "--audience", "external"))
    assert posted.startswith("#") and "[SEV1] Incident #1: Payment webhooks failing" in posted
    assert "next update due 2026-06-24 12:30 JST" in posted
    assert _ok(run("status", "1", "mitigated", "--note", "backlog draining")).startswith("INC-1 is mitigated")
    bad = run("status", "1", "identified")
    assert isinstance(bad.exception, InvalidTransition) and bad.exception.exit_code == 5
    assert "allowed next: resolved, closed" in bad.exception.message
    markdown = _ok(run("incident", "export", "1"))
    assert markdown.startswith("# INC-1: Payment webhooks failing")
    assert "@hana accepted IC from @yuta" in markdown


def test_timeline_json_and_follow(run, monkeypatch, server, make_token):
    _ok(run("declare", "Payment webhooks failing", "--sev", "2"))
    entries = json.loads(_ok(run("timeline", "1", "--json")))
    assert [e["kind"] for e in entries] == ["system", "role", "system", "system"]  # no service: nobody paged
    text = _ok(run("timeline", "INC-1"))
    assert "12:00:00 #1 system @yuta: INC-1 declared SEV2 by @yuta: Payment webhooks failing" in text

    headers = {"Authorization": f"Bearer {make_token('responder', person='yuta')}"}
    happenings = iter(
        [
            ("timeline", {"kind": "note", "text": "webhooks recovering"}),
            ("status", {"status": "closed"}),
        ]
    )
    polls: list[float] = []

    def next_poll(seconds: float) -> None:
        """Instead of sleeping between polls, something happens on the incident."""
        polls.append(seconds)
        path, body = next(happenings)
        answer = httpx.post(f"{server}/api/v1/incidents/1/{path}", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text

    monkeypatch.setattr(incidents_cli, "_sleep", next_poll)
    followed = _ok(run("timeline", "1", "--follow", "--after", "4", "--interval", "0.5"))
    lines = followed.splitlines()
    assert polls == [0.5, 0.5]
    assert lines[0].endswith("note @yuta: webhooks recovering")
    assert lines[1].endswith("status @yuta: INC-1 investigating → closed by @yuta")
    assert len(lines) == 2  # it stopped by itself once the incident was closed


def test_client_config_file_env_precedence_and_errors(tmp_path, server, make_token):
    token = make_token("read", person="ken")
    config = tmp_path / "config.toml"
    config.write_text(f'url = "{server}"\ntoken = "{token}"\n')
    settings = Settings(config_file=config)
    assert client_module.resolve(settings) == (server, token)
    with client_module.Client.from_settings(settings) as c:
        assert c.get("/api/v1/incidents") == []
    overridden = Settings(config_file=config, url="http://127.0.0.1:9")
    assert client_module.resolve(overridden) == ("http://127.0.0.1:9", token)
    with pytest.raises(Unavailable) as caught, client_module.Client.from_settings(overridden) as c:
        c.get("/api/v1/incidents")
    assert caught.value.message == (
        "cannot reach commandpost at http://127.0.0.1:9: is `commandpost serve` running? set COMMANDPOST_URL"
    )
    assert token not in caught.value.message
    with pytest.raises(Unauthorized, match="no API token"), client_module.Client(server, "") as c:
        c.get("/api/v1/incidents")
    with (
        pytest.raises(Unauthorized, match="unknown or revoked"),
        client_module.Client(server, "cp_wrong") as c,
    ):
        c.get("/api/v1/incidents")
    config.write_text("url = [broken")
    with pytest.raises(ValidationFailed, match="not valid TOML"):
        client_module.resolve(Settings(config_file=config))


def _commandpost(*args: str, url: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COMMANDPOST_URL": url,
        "COMMANDPOST_TOKEN": token,
        "COMMANDPOST_CONFIG_FILE": str(tmp_path / "absent.toml"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(EXECUTABLE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.integration  # the installed executable, as a person runs it
def test_the_installed_command_prints_one_red_line_and_the_exit_code(server, make_token, tmp_path):
    token = make_token("responder", person="yuta")
    done = _commandpost(
        "declare", "Payment webhooks failing", "--sev", "2", url=server, token=token, tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("INC-1 declared · SEV2")
    refused = _commandpost("status", "INC-1", "reopen", url=server, token=token, tmp_path=tmp_path)
    assert refused.returncode == 5
    assert refused.stderr.startswith("error: INC-1 cannot go from investigating to reopen")
    assert "Traceback" not in refused.stderr


def test_an_unreachable_server_is_exit_6_with_a_hint_and_no_token(tmp_path):
    token = "cp_do-not-print-me"
    down = _commandpost("incidents", url="http://127.0.0.1:9", token=token, tmp_path=tmp_path)
    assert down.returncode == 6
    assert down.stderr.startswith(
        "error: cannot reach commandpost at http://127.0.0.1:9: is `commandpost serve`"
    )
    assert "set COMMANDPOST_URL" in down.stderr
    assert token not in down.stderr + down.stdout
