"""``commandpost serve``'s log as an operator's supervisor sees it: the access line of an intake
request (its key masked), and on SIGTERM — how systemd stops a service — every line up to
uvicorn's last, although the event loop only queued them (``logfilter.ServerLog``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from commandpost.logfilter import MASK
from tests.alert_support import free_port, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")


def test_access_lines_are_masked_and_sigterm_writes_the_last_lines(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--port", str(port)]
    argv += ["--database-url", f"sqlite:///{tmp_path / 'commandpost.db'}"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)
        key = re.search(r"/api/v1/intake/generic/([0-9a-f]+)", err.read_text())
        assert key is not None, err.read_text()
        event = {"dedup_key": "disk-full/db-1", "summary": "Disk 95% full on db-1"}
        for n in range(20):
            reply = httpx.post(f"{base}/api/v1/intake/generic/{key[1]}?n={n}", json=event, timeout=10)
            assert reply.status_code == 202, reply.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err.read_text()  # as the default action exits

    access = re.sub(r"127\.0\.0\.1:\d+", "CLIENT", out.read_text()).splitlines()
    line = 'INFO:     CLIENT - "POST /api/v1/intake/generic/{}?n={} HTTP/1.1" 202 Accepted'
    assert [a for a in access if "/api/v1/intake/" in a] == [line.format(MASK, n) for n in range(20)]
    assert key[1] not in out.read_text()
    lines = err.read_text().splitlines()  # uvicorn's last lines, logged after the SIGTERM
    assert "INFO:     Application shutdown complete." in lines, "\n".join(lines)
    assert lines[-1] == f"INFO:     Finished server process [{proc.pid}]", "\n".join(lines)
