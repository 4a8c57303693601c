"""The CI recipe of docs/ops.md ("Applying from CI"), run as written with bash, curl and jq against a
real ``commandpost serve`` on SQLite and PostgreSQL (issue 20, item 10): the dry run lists the
change, the apply stores revision 2, and the server runs on it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.alert_support import free_port, stop_serve, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")


def _recipe() -> str:
    text = (REPO / "docs" / "ops.md").read_text(encoding="utf-8")
    section = text.split("### Applying from CI", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "docs/ops.md has no sh block under 'Applying from CI'"
    return block.group(1)


def test_the_documented_curl_recipe_applies_a_folder(
    db_url: str, tmp_path: Path, make_token: Callable[..., str]
) -> None:
    for tool in ("curl", "jq", "tar", "bash"):
        assert shutil.which(tool), f"{tool} is needed by the documented recipe (.ci/run installs it)"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--database-url", db_url, "--no-engine"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    err = tmp_path / "stderr.log"
    with (tmp_path / "stdout.log").open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)
        work = tmp_path / "checkout"
        shutil.copytree(EXAMPLE_OPS, work / "ops")
        people = work / "ops" / "people.yaml"
        people.write_text(people.read_text().replace("name: Ken Watanabe", "name: Ken Watanabe-Mori"))
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _recipe()],
            cwd=work,
            env={**env, "CP_URL": base, "CP_ADMIN_TOKEN": make_token("admin")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "changed people ken"  # the dry run's jq line
        assert '"created": true' in done.stdout and '"revision": 2' in done.stdout

        token = {"Authorization": f"Bearer {make_token('read')}"}
        revisions = httpx.get(f"{base}/api/v1/ops/revisions", headers=token, timeout=10).json()
        assert [r["seq"] for r in revisions] == [2, 1]
        assert revisions[0]["source"] == "archive uploaded by @yuta"
    finally:
        stop_serve(proc)
