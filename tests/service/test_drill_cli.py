"""``commandpost drill start|list|scorecard`` and ``commandpost star|stars`` in this process
(tests/cli_support.py) against a real uvicorn server on a frozen clock, on both databases."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests import cli_support
from tests.api.test_postmortem_stars import _postmortem
from tests.drill_support import past_incident
from tests.paging_support import act
from tests.service.test_postmortem_cli import _serve


@pytest.fixture
def cli(app, applied_ops, make_token, sessions, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    act(sessions, lambda s: _postmortem(s, past_incident(s, clock.now() - timedelta(days=1)), "final"))
    tokens = {who: make_token("responder", person=who) for who in ("mei", "ken")}
    with _serve(app) as url:

        def run(*args: str, who: str = "mei") -> subprocess.CompletedProcess[str]:
            env = {
                "COMMANDPOST_URL": url,
                "COMMANDPOST_TOKEN": tokens[who],
                "HOME": str(tmp_path),
                "TZ": "UTC",
            }
            return cli_support.run_cli(args, env={**env, "COLUMNS": "200"}, cwd=tmp_path)

        yield run


def test_drill_start_list_and_scorecard(cli):
    started = cli("drill", "start", "--from", "INC-1", "--trainee", "@ken", "--speed", "4")
    assert started.returncode == 0, started.stderr
    assert "INC-2 drill of INC-1 at 4×: trainee @ken, game master @mei" in started.stdout
    assert "The on-call is not paged." in started.stdout
    listed = cli("drill", "list")  # piped: one tab-separated line per drill
    assert listed.stdout.split("\t")[:3] == ["INC-2", "INC-1", "investigating"]
    card = json.loads(cli("drill", "scorecard", "INC-2", "--json").stdout)
    assert card["lines"][0]["original"] == 240 and card["complete"] is False
    shown = cli("drill", "scorecard", "INC-2").stdout
    assert "time to ack\t—\t4m00s\t1m00s\tnot reached" in shown
    assert "time to the runbook's first move: drill: no first move named" in shown  # under the table
    assert "; original: no first move named: no runbook on this incident" in shown


def test_bad_drill_starts_exit_non_zero_and_say_why(cli):
    for args, words in (
        (("--from", "INC-9"), "no incident INC-9"),
        (("--from", "INC-1", "--speed", "0"), "speed"),
        (("--from", "INC-1", "--trainee", "nobody"), "unknown person @nobody"),
    ):
        done = cli("drill", "start", *args)
        assert done.returncode != 0 and words in done.stderr, (args, done.stderr)
    assert cli("drill", "list", "--json").stdout.strip() == "[]"


def test_star_and_the_month_from_the_command_line(cli):
    starred = cli("star", "INC-1", who="ken")
    assert starred.returncode == 0, starred.stderr
    assert "starred the postmortem of INC-1: 1 ★" in starred.stdout
    assert json.loads(cli("stars", "--json").stdout) == [
        {"number": "INC-1", "title": "Postmortem: Checkout error rate above 5%", "stars": 1}
    ]
    assert "unstarred the postmortem of INC-1: 0 ★" in cli("star", "INC-1", "--remove", who="ken").stdout
