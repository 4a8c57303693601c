"""GitOps from the command line (issue 20, item 10): ``apply --dry-run`` and ``ops schema``.

``--dry-run`` prints what applying would add (+), change (~) and remove (-) against the stored
revision, on SQLite and PostgreSQL, and stores nothing; ``--exit-code`` exits 7 when something would
change. ``ops schema`` prints the JSON Schema of each kind of ops file: the example folder validates
against it, and a misspelt key does not.
"""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
import yaml
from sqlalchemy import func, select

from commandpost.policy.jsonschema import KINDS
from commandpost.policy.models import OpsRevision
from tests import cli_support
from tests.conftest import EXAMPLE_OPS


def _cli(*args: str, db_url: str | None = None):
    env = {"COMMANDPOST_DATABASE_URL": db_url} if db_url else {}
    return cli_support.run_cli(args, env=env)


def _revisions(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(OpsRevision))


def test_dry_run_prints_the_diff_against_the_stored_revision(db_url, sessions, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    first = _cli("apply", "--dry-run", "--exit-code", str(ops), db_url=db_url)
    assert first.returncode == 7, first.stderr
    assert "against no applied revision:" in first.stdout and "+ services payment-platform" in first.stdout
    assert _revisions(sessions) == 0
    assert _cli("apply", str(ops), db_url=db_url).returncode == 0

    same = _cli("apply", "--dry-run", "--exit-code", str(ops), db_url=db_url)
    assert (same.returncode, same.stdout.strip()) == (0, "no changes: revision 1 is current")

    people = ops / "people.yaml"
    people.write_text(people.read_text().replace("timezone: Asia/Tokyo", "timezone: Europe/Berlin", 1))
    (ops / "runbooks" / "payment-webhook-backlog.md").unlink()
    for path in (ops / "services").glob("*.yaml"):
        path.write_text(path.read_text().replace("payment-webhook-backlog", "db-connection-exhaustion"))
    changed = _cli("apply", "--dry-run", str(ops), db_url=db_url)
    assert changed.returncode == 0, changed.stdout + changed.stderr  # without --exit-code: 0
    lines = [line.strip() for line in changed.stdout.splitlines()]
    assert lines[0] == "against revision 1:"
    assert "~ people yuta (timezone)" in lines
    assert "~ services payment-platform (alert_rules)" in lines
    assert "- runbooks payment-webhook-backlog" in lines
    assert lines[-1] == "3 changes; nothing applied (--dry-run)"
    assert _revisions(sessions) == 1

    (ops / "severities.yaml").write_text((EXAMPLE_OPS / "severities.yaml").read_text() + "# a comment\n")
    shutil.copyfile(EXAMPLE_OPS / "people.yaml", people)
    shutil.copytree(EXAMPLE_OPS / "runbooks", ops / "runbooks", dirs_exist_ok=True)
    for path in (ops / "services").glob("*.yaml"):
        shutil.copyfile(EXAMPLE_OPS / "services" / path.name, path)
    comment = _cli("apply", "--dry-run", "--exit-code", str(ops), db_url=db_url)
    assert comment.returncode == 7
    assert "~ changed severities.yaml" in comment.stdout and "no setting changes" in comment.stdout


def test_dry_run_of_an_invalid_folder_is_exit_1_with_its_findings(db_url, sessions, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "people.yaml").write_text("people: [{handle: x, shoe_size: 44}]\n")
    done = _cli("apply", "--dry-run", str(ops), db_url=db_url)
    assert done.returncode == 1 and "people.yaml" in done.stdout
    assert _revisions(sessions) == 0


class _Editor(yaml.SafeLoader):
    """YAML as an editor reads it: 2026-01-05 stays a string (PyYAML would make it a date)."""


_Editor.yaml_implicit_resolvers = {
    key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_example_folder_validates_against_each_schema(kind):
    done = _cli("ops", "schema", kind)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(EXAMPLE_OPS.glob(KINDS[kind][1]))
    assert files
    for path in files:
        data = yaml.load(path.read_text(), _Editor)
        assert [e.message for e in validator.iter_errors(data)] == [], path


def test_a_misspelt_key_and_a_wrong_type_fail_the_schema():
    validator = jsonschema.Draft202012Validator(json.loads(_cli("ops", "schema", "people").stdout))
    data = yaml.load((EXAMPLE_OPS / "people.yaml").read_text(), _Editor)
    data["people"][0]["timezon"] = "UTC"
    data["teams"] = "not a list"
    messages = [e.message for e in validator.iter_errors(data)]
    assert any("'timezon' was unexpected" in m for m in messages) and any(
        "not of type 'array'" in m for m in messages
    )


def test_schema_dir_writes_every_kind_and_prints_vscode_settings(tmp_path):
    done = cli_support.run_cli(["ops", "schema", "--dir", ".vscode/commandpost"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["yaml.schemas"]
    assert settings[".vscode/commandpost/people.schema.json"] == "ops/people.yaml"
    assert settings[".vscode/commandpost/escalation.schema.json"] == "ops/escalation/*.yaml"
    assert sorted(p.name for p in (tmp_path / ".vscode" / "commandpost").iterdir()) == sorted(
        f"{kind}.schema.json" for kind in KINDS
    )


def test_schema_without_a_kind_or_dir_is_a_usage_error():
    done = _cli("ops", "schema")
    assert done.returncode == 2 and "name one kind" in done.stderr
    assert _cli("ops", "schema", "nope").returncode == 2
