"""``commandpost ack`` / ``escalate`` / ``pages`` as a user runs them: the console script (in this
process, tests/cli_support.py) talking to a real uvicorn server (frozen clock, engine off: the test
decides when the processor runs), both databases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests import cli_support
from tests.alert_support import keys, pd_trigger, serve
from tests.paging_support import processor, run_until


@pytest.fixture
def cli(app, applied_ops, make_token, tmp_path: Path):  # type: ignore[no-untyped-def]
    token = make_token("responder", person="hana")
    with serve(app) as url:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            env = {
                "COMMANDPOST_URL": url,
                "COMMANDPOST_TOKEN": token,
                "HOME": str(tmp_path),
                "TZ": "UTC",
                "COLUMNS": "200",
            }
            return cli_support.run_cli(args, env=env)

        yield run


def test_escalate_pages_then_ack_stops(cli, client, sessions, clock):
    key = keys(sessions)["pagerduty"]
    assert (
        client.post("/v2/enqueue", json=pd_trigger(key, **{"class": "WebhookBacklogHigh"})).status_code == 202
    )
    esc = processor()
    run_until(sessions, clock, clock.now(), esc)

    shown = cli("pages", "INC-1")
    assert shown.returncode == 0, shown.stderr
    assert "escalation active · level 2 (secondary_oncall)" in shown.stdout
    assert "@yuta" in shown.stdout and "page" in shown.stdout

    escalated = cli("escalate", "INC-1")
    assert escalated.returncode == 0, escalated.stderr
    assert "INC-1 escalated: 4 message(s) queued" in escalated.stdout

    acked = cli("ack", "INC-1")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.strip() == "INC-1 acknowledged · IC @hana · escalation stops"

    as_json = json.loads(cli("pages", "INC-1", "--json").stdout)
    assert as_json["escalation"]["state"] == "acknowledged"
    assert [(p["level"], p["person"]) for p in as_json["pages"] if p["channel"] == "console"] == [
        (1, "yuta"),
        (2, "hana"),
    ]


def test_errors_are_one_red_line_and_an_exit_code(cli):
    missing = cli("escalate", "INC-42")
    assert missing.returncode == 4 and "no incident INC-42" in missing.stderr
    bad = cli("ack", "nope")
    assert bad.returncode == 2 and "not an incident number" in bad.stderr
