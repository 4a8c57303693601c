"""``commandpost slack manifest`` as a person runs it: the document alone on stdout (JSON or YAML, the
same dict), the URL from the server's record or ``--url``, org and command from the applied revision or
``--ops``; an http URL warns on stderr and still prints; a URL Slack cannot call is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from commandpost import public_url
from commandpost.db.engine import transaction
from tests import cli_support
from tests.conftest import EXAMPLE_OPS

URLS = {
    "commands": "https://cp.example.com/cp/api/v1/slack/commands",
    "interactions": "https://cp.example.com/cp/api/v1/slack/interactions",
    "events": "https://cp.example.com/cp/api/v1/slack/events",
}


def _run(*args: str, database_url: str | None = None):  # type: ignore[no-untyped-def]
    env = {"COLUMNS": "200", "COMMANDPOST_PUBLIC_URL": None}
    if database_url:
        env["COMMANDPOST_DATABASE_URL"] = database_url
    return cli_support.run_cli(["slack", "manifest", *args], env=env)


def _urls(document: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {
        "commands": document["features"]["slash_commands"][0]["url"],
        "interactions": document["settings"]["interactivity"]["request_url"],
        "events": document["settings"]["event_subscriptions"]["request_url"],
    }


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    """examples/ops with the org's slash command renamed to /incident."""
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    with (folder / "commandpost.yaml").open("a") as f:
        f.write("\nslack:\n  command: /incident\n")
    return folder


def test_offline_json_and_yaml_are_the_same_document(ops):
    as_json = _run("--url", "https://cp.example.com/cp/", "--ops", str(ops))
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)  # the whole of stdout is the document
    assert _urls(document) == URLS
    assert document["features"]["slash_commands"][0]["command"] == "/incident"
    assert "Example Payments" in document["display_information"]["description"]
    assert "warning" not in as_json.stderr and "api.slack.com/apps" in as_json.stderr
    as_yaml = _run("--yaml", "--url", "https://cp.example.com/cp/", "--ops", str(ops))
    assert as_yaml.returncode == 0, as_yaml.stderr
    assert not as_yaml.stdout.lstrip().startswith("{")
    assert yaml.safe_load(as_yaml.stdout) == document
    assert "\x1b[" not in as_json.stdout + as_yaml.stdout  # plain text: pasted, piped, diffed


def test_from_the_database_the_recorded_url_and_the_applied_revision(sessions, applied_ops, clock, db_url):
    with transaction(sessions) as session:
        public_url.record(session, "https://cp.example.com/cp", now=clock.now())
    done = _run(database_url=db_url)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert _urls(document) == URLS
    assert (
        document["features"]["slash_commands"][0]["command"] == applied_ops.settings.slack.command == "/inc"
    )
    assert applied_ops.settings.org in document["display_information"]["description"]
    # --url wins over the record
    other = json.loads(_run("--url", "https://slack-in.example.com", database_url=db_url).stdout)
    assert _urls(other)["events"] == "https://slack-in.example.com/api/v1/slack/events"


def test_before_any_apply_the_default_command_with_a_note(sessions, db_url):
    done = _run("--url", "https://cp.example.com", database_url=db_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["features"]["slash_commands"][0]["command"] == "/inc"
    assert "no ops revision is applied yet" in done.stderr


def test_an_http_url_prints_the_manifest_and_warns_how_to_put_tls_in_front(ops):
    done = _run("--url", "http://cp.example.com:8080", "--ops", str(ops))
    assert done.returncode == 0, done.stderr
    assert _urls(json.loads(done.stdout))["commands"] == "http://cp.example.com:8080/api/v1/slack/commands"
    warning = " ".join(done.stderr.split())
    assert "warning:" in warning and "Slack refuses request URLs without TLS" in warning
    assert "COMMANDPOST_PUBLIC_URL" in warning


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "https://cp.example.com/\x00"], "control characters"),
        (["--url", "https://cp.example.com/?x=1"], "query or fragment"),
        (["--url", "cp.example.com"], "must be absolute"),
        (["--url", "https://" + "a" * 4000 + ".example.com"], "too long"),
        (["--url", "https://cp.example.com", "--json", "--yaml"], "choose one"),
    ],
)
def test_refused_with_a_red_line_and_nothing_on_stdout(ops, args, says):
    done = _run(*args, "--ops", str(ops))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error:" in done.stderr and says in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and "\x00" not in done.stderr


def test_a_broken_ops_folder_is_refused_with_how_to_see_why(ops):
    (ops / "commandpost.yaml").write_text("org: Example\nslack:\n  command: inc\n")
    done = _run("--url", "https://cp.example.com", "--ops", str(ops))
    assert done.returncode == 1 and done.stdout == ""
    assert "commandpost check" in done.stderr


def test_slack_is_listed_and_its_help_names_manifest():
    root = cli_support.run_cli(["--help"], env={"COLUMNS": "200"})
    assert " slack " in root.stdout
    group = cli_support.run_cli(["slack", "--help"], env={"COLUMNS": "200"})
    assert group.returncode == 0 and "manifest" in group.stdout
