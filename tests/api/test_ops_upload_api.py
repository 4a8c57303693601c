"""``POST /api/v1/ops/revisions``: CI applies an ops folder sent as a tar.gz (issue 20, item 10).

Real archives made with ``tarfile``, on SQLite and PostgreSQL. A hostile archive (a path out of the
folder, an absolute path, a link, a zip bomb, too many entries, a control character in a name) is a
4xx with a clear message, and nothing stored changes: no revision, no audit row.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commandpost.policy import tarball
from commandpost.policy.models import OpsRevision
from commandpost.security.models import AuditLog
from tests.conftest import EXAMPLE_OPS

GZIP = {"content-type": "application/gzip"}


def _targz(folder: Path, *, prefix: str = ".", extra: list[tuple[tarfile.TarInfo, bytes]] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=prefix)
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _member(name: str, data: bytes = b"x: 1\n", **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def _stored(sessions) -> tuple[int, int]:
    with sessions() as s:
        revisions = s.scalar(select(func.count()).select_from(OpsRevision))
        audits = s.scalar(select(func.count()).select_from(AuditLog))
    return revisions, audits


def _post(client, auth, body: bytes, scope: str = "admin", **params: str):
    return client.post("/api/v1/ops/revisions", content=body, headers={**auth(scope), **GZIP}, params=params)


def test_ci_applies_a_folder_then_nothing_changes_then_a_change(client, auth, sessions, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "README.txt").write_text("not an ops file")
    first = _post(client, auth, _targz(ops))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["ignored"] == ["README.txt"]
    assert body["revision"]["seq"] == 1 and body["revision"]["applied_by"] == "archive uploaded by @yuta"
    ops_files = [p for p in EXAMPLE_OPS.rglob("*") if p.is_file()]
    assert body["changes"][0] == f"initial revision: {len(ops_files)} files"

    again = _post(
        client, auth, _targz(ops, prefix="ops")
    )  # tar czf x.tgz ops: the wrapper folder is taken off
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["revision"]["id"] == body["revision"]["id"]

    people = ops / "people.yaml"
    people.write_text(people.read_text().replace("name: Ken Watanabe", "name: Ken Watanabe-Mori"))
    planned = _post(client, auth, _targz(ops), dry_run="true")
    assert planned.status_code == 200
    assert planned.json()["plan"]["changes"] == [
        {"kind": "people", "name": "ken", "action": "changed", "fields": ["name"]}
    ]
    assert _stored(sessions)[0] == 1  # the dry run stored nothing
    second = _post(client, auth, _targz(ops))
    assert second.status_code == 201 and second.json()["changes"] == ["changed people.yaml: people"]
    listed = client.get("/api/v1/ops/revisions", headers=auth("read")).json()
    assert [r["seq"] for r in listed] == [2, 1]


def test_an_invalid_folder_is_422_with_every_finding_and_nothing_stored(client, auth, sessions, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "severities.yaml").write_text("severities: [\x00]\n")
    before = _stored(sessions)
    answer = _post(client, auth, _targz(ops))
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "policy_invalid" and any("severities.yaml" in d for d in error["details"])
    assert str(tmp_path) not in answer.text and "commandpost-ops-" not in answer.text  # no server paths
    assert _stored(sessions) == before


def test_only_an_admin_token_applies(client, auth, sessions, tmp_path):
    body = _targz(EXAMPLE_OPS)
    assert client.post("/api/v1/ops/revisions", content=body, headers=GZIP).status_code == 401
    assert _post(client, auth, body, scope="responder").status_code == 403
    assert _stored(sessions)[0] == 0


def _bomb() -> bytes:
    """A tar.gz of 40 KiB that unpacks to 64 MiB of zeros (a file header claiming it)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("people.yaml")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return gzip.compress(raw.getvalue(), compresslevel=9)


HOSTILE = {
    "path traversal": ([_member("../evil.yaml")], 400, "climbs out of the folder"),
    "deep traversal": ([_member("services/" + "../" * 3 + "etc/cron.d/x.yaml")], 400, "climbs out"),
    "absolute path": ([_member("/etc/passwd.yaml")], 400, "absolute path"),
    "symlink": ([_member("people.yaml", b"", type=tarfile.SYMTYPE, linkname="/etc/shadow")], 400, "link"),
    "hard link": (
        [_member("people.yaml", b"", type=tarfile.LNKTYPE, linkname="commandpost.yaml")],
        400,
        "link",
    ),
    "device": ([_member("dev.yaml", b"", type=tarfile.CHRTYPE)], 400, "special file"),
    "control character": ([_member("people\x1b[2J.yaml")], 400, "control character"),
    "too many entries": ([_member(f"services/s{i}.txt", b"") for i in range(2_001)], 413, "more than 2000"),
    "one huge file": ([_member("runbooks/big.md", b"#" * (1024 * 1024 + 1))], 413, "at most 1048576"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_archive_is_refused_and_nothing_changes(client, auth, sessions, case):
    members, status, message = HOSTILE[case]
    before = _stored(sessions)
    answer = _post(client, auth, _targz(EXAMPLE_OPS, extra=members))
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert _stored(sessions) == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (_bomb(), 413, "unpacks to more than"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20, 400, "not a valid gzip stream"),
        (gzip.compress(b"not a tar at all" * 100), 400, "not a tar archive"),
        (_targz(EXAMPLE_OPS)[:200], 400, "cut short"),
        (b"", 400, "not a tar archive"),
        (gzip.compress(tarfile.TarInfo("empty").tobuf() + bytes(1024)), 400, "no .yaml or .md file"),
    ],
    ids=["zip bomb", "bad gzip", "not tar", "truncated", "empty body", "no ops files"],
)
def test_a_malformed_or_inflating_body_is_refused(client, auth, sessions, body, status, message):
    before = _stored(sessions)
    answer = _post(client, auth, body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert _stored(sessions) == before


def test_the_bomb_stops_at_the_cap_without_inflating_it_all():
    assert len(_bomb()) < 100 * 1024
    with pytest.raises(Exception, match="unpacks to more than"):
        tarball.unpack(_bomb())
