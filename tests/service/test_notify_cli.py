"""``commandpost notifications [--failed]`` and ``notifications retry ID`` as a person runs them: the
console script (in this process, tests/cli_support.py) talking to a real uvicorn server over HTTP, on
both databases."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from commandpost.notify import service
from commandpost.notify.models import DEAD
from tests import cli_support


@contextmanager
def serve(app: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def cli(app, make_token, tmp_path: Path):  # type: ignore[no-untyped-def]
    token = make_token("responder", person="hana")
    with serve(app) as url:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            env = {
                "COMMANDPOST_URL": url,
                "COMMANDPOST_TOKEN": token,
                "HOME": str(tmp_path),
                "TZ": "UTC",
                "COLUMNS": "220",
                "TTY_COMPATIBLE": "1",  # a terminal: the tables (in a pipe: tab-separated lines)
            }
            return cli_support.run_cli(args, env=env)

        yield run


def test_failed_lists_dead_letters_and_retry_queues_one(cli, sessions, clock):
    with sessions() as s:
        dead = service.enqueue(
            s,
            key="page/7/yuta/email",
            channel="email",
            destination="yuta@example.com",
            subject="[SEV1] INC-7 backlog",
            body="b",
            severity="SEV1",
            incident_id=7,
            person="yuta",
            now=clock.now(),
        )
        service.enqueue(
            s,
            key="page/7/yuta/console",
            channel="console",
            destination="@yuta",
            subject="[SEV1] INC-7 backlog",
            body="b",
            severity="SEV1",
            incident_id=7,
            person="yuta",
            now=clock.now(),
        )
        s.flush()
        dead.status, dead.attempts, dead.last_error = (
            DEAD,
            10,
            "email is not configured: set COMMANDPOST_SMTP_HOST",
        )
        s.commit()

    table = cli("notifications", "--failed")
    assert table.returncode == 0, table.stderr
    assert (
        "Dead letters" in table.stdout and "yuta@example.com" in table.stdout and "@yuta" not in table.stdout
    )
    assert "email is not configured" in table.stdout and "notifications retry ID" in table.stderr
    everything = json.loads(cli("notifications", "--json").stdout)
    assert sorted(r["channel"] for r in everything) == ["console", "email"]

    retried = cli("notifications", "retry", str(dead.id))
    assert retried.returncode == 0, retried.stderr
    assert f"notification {dead.id} (email → yuta@example.com) queued again" in retried.stderr
    assert json.loads(cli("notifications", "--failed", "--json").stdout) == []
    again = cli("notifications", "retry", str(dead.id))  # now pending: a retry-now, still fine
    assert again.returncode == 0
    missing = cli("notifications", "retry", "999")
    assert (
        missing.returncode == 4
        and "no notification 999" in missing.stderr
        and "Traceback" not in missing.stderr
    )
