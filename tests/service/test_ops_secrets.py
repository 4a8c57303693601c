"""A credential written into an ops folder (it lives in git) is refused by check, apply and the CI
upload at its ``path:line``, naming the field and never the value; nothing is stored. On SQLite and
PostgreSQL where a database is involved."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.errors import PolicyInvalid
from commandpost.policy import service
from commandpost.policy.loader import load_ops
from commandpost.policy.models import OpsRevision
from tests.conftest import EXAMPLE_OPS

GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T0123ABCD/B0123ABCD/AbCdEfGhIjKlMnOpQrStUvWx"


def _ops(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    return ops


def _edit(ops: Path, rel: str, old: str, new: str) -> None:
    path = ops / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def _line_of(ops: Path, rel: str, needle: str) -> int:
    return next(n for n, line in enumerate((ops / rel).read_text().splitlines(), 1) if needle in line)


def test_a_token_in_a_description_is_an_error_at_its_line_naming_the_field(tmp_path):
    ops = _ops(tmp_path)
    rel = "services/payment-platform.yaml"
    _edit(ops, rel, "description: Charges,", f"description: deploy with {GITHUB}. Charges,")
    result = load_ops(ops)
    assert result.config is None
    [found] = [f for f in result.errors if "credential" in f.message]
    assert (found.path, found.line) == (rel, _line_of(ops, rel, GITHUB))
    assert found.message.startswith("description: a credential (github-token) is written here")
    assert "COMMANDPOST_*" in found.message
    assert GITHUB not in str(result.errors) + str(result.warnings)


def test_secrets_in_comments_runbooks_and_nested_fields_are_each_found(tmp_path):
    ops = _ops(tmp_path)
    _edit(ops, "people.yaml", "    name: Sato Kenji", f"    name: Sato Kenji  # bot token {SLACK_BOT}")
    _edit(ops, "commandpost.yaml", "      Next update by {next_update}.", "      password: hunter2hunter2")
    runbook = "runbooks/payment-webhook-backlog.md"
    (ops / runbook).write_text(
        (ops / runbook).read_text() + f'\ncurl -H "Authorization: Bearer {GITHUB}" https://x.example\n'
    )
    found = {(f.path, f.message.split(":")[0]) for f in load_ops(ops).errors if "credential" in f.message}
    assert found == {
        ("people.yaml", "a comment"),
        ("commandpost.yaml", "comms.templates.initial"),
        (runbook, "this line"),
    }


def test_a_private_key_block_is_found_at_its_first_line(tmp_path):
    ops = _ops(tmp_path)
    key = "-----BEGIN RSA PRIVATE KEY-----\n  MIIEpAIBAAKCAQEA\n  -----END RSA PRIVATE KEY-----"
    _edit(
        ops,
        "services/payment-platform.yaml",
        "description: Charges,",
        f"description: |\n  {key}\n  Charges,",
    )
    errors = load_ops(ops).errors
    [found] = errors  # the YAML is valid: the key is its one error
    assert found.line == _line_of(ops, "services/payment-platform.yaml", "BEGIN RSA")
    assert (
        found.message.startswith("description: a credential (private-key)")
        and "MIIEpAIB" not in found.message
    )


def test_an_address_is_used_as_written_but_a_credential_in_its_place_is_not_echoed(tmp_path):
    ops = _ops(tmp_path)
    _edit(ops, "people.yaml", "https://hooks.slack.example/services/T000/B001/yuta", SLACK_HOOK)
    result = load_ops(ops)
    assert result.ok, result.errors  # a Slack incoming webhook carries its secret; the sender needs it
    person = result.config.person("yuta") if result.config else None
    assert person is not None and person.contact.slack_webhook == SLACK_HOOK

    _edit(ops, "people.yaml", SLACK_HOOK, SLACK_BOT)  # a bot token where a URL goes: invalid, not quoted
    errors = load_ops(ops).errors
    assert any("contact.slack_webhook" in f.message and "[REDACTED:slack-token]" in f.message for f in errors)
    assert SLACK_BOT not in str(errors)


def test_high_entropy_alone_is_a_warning_and_does_not_stop_apply(tmp_path):
    ops = _ops(tmp_path)
    _edit(
        ops,
        "services/payment-platform.yaml",
        "description: Charges,",
        "description: ref kR7vX2pQ9mZ4wL8nT3yB6cF1hJ5sD0gA. Charges,",
    )
    result = load_ops(ops)
    assert result.ok, result.errors
    assert any("what may be a credential (high-entropy)" in f.message for f in result.warnings)


def test_a_nul_byte_is_a_finding_not_a_crash(tmp_path):
    ops = _ops(tmp_path)
    _edit(
        ops, "services/payment-platform.yaml", "description: Charges,", f"description: \0{GITHUB}\0 Charges,"
    )
    result = load_ops(ops)
    assert result.config is None
    assert any("control character U+0000" in f.message for f in result.errors)
    assert any("github-token" in f.message for f in result.errors)
    assert GITHUB not in str(result.errors)


def _revisions(sessions: sessionmaker[Session]) -> list[OpsRevision]:
    with sessions() as s:
        return list(s.scalars(select(OpsRevision)))


def test_apply_refuses_a_credential_and_stores_nothing(sessions, clock: FrozenClock, tmp_path):
    with sessions() as s:
        service.apply_folder(s, path=EXAMPLE_OPS, now=clock.now(), actor="test")
        s.commit()
    before = _revisions(sessions)
    ops = _ops(tmp_path)
    rel = "services/payment-platform.yaml"
    _edit(ops, rel, "description: Charges,", f"description: {GITHUB} Charges,")
    with pytest.raises(PolicyInvalid) as info, sessions() as s:
        service.apply_folder(s, path=ops, now=clock.now(), actor="test")
    line = _line_of(ops, rel, GITHUB)
    assert any(
        d.startswith(f"{rel}:{line}: description: a credential (github-token)") for d in info.value.details
    )
    assert GITHUB not in str(info.value) + str(info.value.details)
    after = _revisions(sessions)
    assert [(r.id, r.content_hash) for r in after] == [(r.id, r.content_hash) for r in before]
    assert GITHUB not in json.dumps([r.files for r in after])


def _targz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def test_the_ci_upload_is_a_422_naming_the_line_and_stores_nothing(client, auth, sessions, tmp_path):
    ops = _ops(tmp_path)
    _edit(ops, "people.yaml", "    name: Sato Kenji", f"    name: Sato Kenji  # {SLACK_BOT}")
    answer = client.post(
        "/api/v1/ops/revisions",
        content=_targz(ops),
        headers={**auth("admin"), "content-type": "application/gzip"},
    )
    assert answer.status_code == 422, answer.text
    line = _line_of(ops, "people.yaml", SLACK_BOT)
    assert f"people.yaml:{line}: a comment: a credential (slack-token)" in answer.text
    assert SLACK_BOT not in answer.text
    assert _revisions(sessions) == []
