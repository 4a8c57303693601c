"""``commandpost serve``'s log as an operator's supervisor sees it: the access line of an intake
request (its key masked), and on SIGTERM — how systemd stops a service — every line up to
uvicorn's last, although the event loop only queued them (``logfilter.ServerLog``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from commandpost.logfilter import MASK
from tests.alert_support import free_port, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
EVENT = {"dedup_key": "disk-full/db-1", "summary": "Disk 95% full on db-1"}
TOKEN = "cp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


def _serve(tmp_path: Path, send: Callable[[str, str], None], **env: str) -> tuple[int, Path, Path]:
    """``commandpost serve`` with the example ops; ``send(base, key)`` once it is ready, then SIGTERM.
    Its pid, stdout and stderr files."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")} | env
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--port", str(port)]
    argv += ["--database-url", f"sqlite:///{tmp_path / 'commandpost.db'}"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)
        key = re.search(r"/api/v1/intake/generic/([0-9a-f]+)", err.read_text())
        assert key is not None, err.read_text()
        send(base, key[1])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err.read_text()  # as the default action exits
    return proc.pid, out, err


def test_access_lines_are_masked_and_sigterm_writes_the_last_lines(tmp_path: Path) -> None:
    keys: list[str] = []

    def send(base: str, key: str) -> None:
        keys.append(key)
        for n in range(20):
            reply = httpx.post(f"{base}/api/v1/intake/generic/{key}?n={n}", json=EVENT, timeout=10)
            assert reply.status_code == 202, reply.text

    pid, out, err = _serve(tmp_path, send)
    access = re.sub(r"127\.0\.0\.1:\d+", "CLIENT", out.read_text())
    access = re.sub(r" request_id=[0-9a-f]{32}$", " request_id=ID", access, flags=re.M).splitlines()
    line = 'INFO:     CLIENT - "POST /api/v1/intake/generic/{}?n={} HTTP/1.1" 202 Accepted request_id=ID'
    assert [a for a in access if "/api/v1/intake/" in a] == [line.format(MASK, n) for n in range(20)]
    assert keys[0] not in out.read_text()
    lines = err.read_text().splitlines()  # uvicorn's last lines, logged after the SIGTERM
    assert "INFO:     Application shutdown complete." in lines, "\n".join(lines)
    assert lines[-1] == f"INFO:     Finished server process [{pid}]", "\n".join(lines)


def test_json_lines_carry_the_request_id_of_the_answer_masked(tmp_path: Path) -> None:
    """COMMANDPOST_LOG_FORMAT=json: every log line one JSON object (the start-up summary before the
    server starts stays text for a person); each access line has the request ID its answer carried."""
    answers: dict[str, str] = {}  # request id → what was sent
    keys: list[str] = []

    def send(base: str, key: str) -> None:
        keys.append(key)
        for n in range(10):
            sent = {"X-Request-ID": f"ci-{n}"} if n % 2 else {}
            reply = httpx.post(
                f"{base}/api/v1/intake/generic/{key}?n={n}&token={TOKEN}",
                json=EVENT,
                headers=sent,
                timeout=10,
            )
            assert reply.status_code == 202, reply.text
            assert reply.headers["x-request-id"] == sent.get("X-Request-ID", reply.headers["x-request-id"])
            answers[reply.headers["x-request-id"]] = f"n={n}"
        reply = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "x" * 5000}, timeout=10)
        assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"])  # the huge one replaced
        answers[reply.headers["x-request-id"]] = "/healthz"

    pid, out, err = _serve(tmp_path, send, COMMANDPOST_LOG_FORMAT="json")
    # stdout also carries the console channel's pages (the example ops tell a SEV3 at once within
    # Tokyo's business hours): a page's first line and its indented body are not log lines
    logs = [line for line in out.read_text().splitlines() if not line.startswith(("[commandpost] ", "    "))]
    access = [json.loads(line) for line in logs]
    access = [a for a in access if a["path"] != "/readyz"]  # serve's readiness, waited for
    seen = {
        a["request_id"]: a["path"] if a["method"] == "GET" else a["path"].split("?")[1][:3] for a in access
    }
    assert seen == answers
    for a in access:
        if a["method"] == "POST":
            assert (
                a["path"]
                == f"/api/v1/intake/generic/{MASK}?{a['path'].split('?')[1].split('&')[0]}&token={MASK}"
            )
            assert a["status"] == 202 and a["logger"] == "uvicorn.access"
    assert keys[0] not in out.read_text() and TOKEN not in out.read_text()
    logged = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert {"time", "level", "logger", "message"} <= set(logged[0])
    assert logged[-1]["message"] == f"Finished server process [{pid}]"
    assert TOKEN not in err.read_text()
