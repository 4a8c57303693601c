"""``commandpost serve --workers 2`` on PostgreSQL: two processes take connections from one socket,
every 202 is stored, SIGTERM stops both with every log line written, and a worker that dies takes the
server down (status 1) for the service manager to restart. On SQLite ``--workers 2`` is refused."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from commandpost.alerts.models import Alert
from commandpost.cli import app as cli_app
from commandpost.db.engine import create_db_engine
from tests.alert_support import free_port, wait_ready, wait_until
from tests.conftest import EXAMPLE_OPS, REPO, pg_database

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
STARTED = re.compile(r"^INFO:     Started server process \[(\d+)\]$", re.M)


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, port: int, out: Path, err: Path) -> None:
        self.proc, self.url, self.port, self.out, self.err = proc, url, port, out, err
        self.base = f"http://127.0.0.1:{port}"

    def workers(self) -> set[int]:
        return {int(pid) for pid in STARTED.findall(self.err.read_text())}

    def routing_key(self) -> str:
        found = re.search(r"routing_key=([0-9a-f]+)", self.err.read_text())
        assert found is not None, self.err.read_text()
        return found[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with pg_database("commandpost_workers") as url:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
        out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
        argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--port", str(port)]
        argv += ["--database-url", url, "--workers", "2"]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
        served = Served(proc, url, port, out, err)
        try:
            wait_ready(proc, served.base, err)
            wait_until(lambda: len(served.workers()) == 2, "both workers' start")
            yield served
        finally:
            for pid in [proc.pid, *served.workers()]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _established(port: int) -> dict[int, str]:
    """Socket inode → 'ESTABLISHED' for the server's side of connections on ``port``."""
    inodes: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":
                inodes[int(fields[9])] = "ESTABLISHED"
    return inodes


def _connections_of(pid: int, port: int) -> int:
    """How many of the server's connections on ``port`` this process holds (its fds)."""
    established = _established(port)
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        found = re.fullmatch(r"socket:\[(\d+)\]", target)
        if found and int(found[1]) in established:
            held += 1
    return held


def _event(key: str, n: int) -> dict[str, object]:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": f"workers/{n % 7}",
        "payload": {
            "summary": f"Queue depth above 1000 on worker-{n % 7}",
            "source": "q",
            "severity": "warning",
        },
    }


def _load(served: Served, clients: int, requests: int) -> tuple[int, list[httpx.Client]]:
    """``clients`` keep-alive connections sending ``requests`` each at once; the connections stay open."""
    key = served.routing_key()
    opened = [httpx.Client(base_url=served.base, timeout=30) for _ in range(clients)]
    accepted = [0] * clients

    def send(i: int) -> None:
        for n in range(requests):
            reply = opened[i].post("/v2/enqueue", json=_event(key, n))
            assert reply.status_code == 202, reply.text
            accepted[i] += 1

    threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(accepted), opened


def _stored(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        total = conn.execute(select(func.coalesce(func.sum(Alert.count), 0))).scalar_one()
    engine.dispose()
    return int(total)


def test_two_workers_share_the_socket_store_every_event_and_stop_on_sigterm(served: Served) -> None:
    workers = served.workers()
    assert workers == _children(served.proc.pid), served.err.read_text()
    accepted, both = 0, False
    for _ in range(5):  # the kernel hands each connection to whichever worker accepts first
        sent, clients = _load(served, clients=16, requests=10)
        accepted += sent
        held = {pid: _connections_of(pid, served.port) for pid in workers}
        for client in clients:
            client.close()
        if all(held.values()):
            both = True
            break
    assert both, f"one worker held every connection: {held}"
    assert _stored(served.url) == accepted

    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 128 + signal.SIGTERM, served.err.read_text()
    lines = served.err.read_text().splitlines()
    for pid in workers:  # each worker wrote its last line (logged after the SIGTERM)
        assert f"INFO:     Finished server process [{pid}]" in lines, "\n".join(lines)
    posts = [
        line for line in served.out.read_text().splitlines() if '"POST /v2/enqueue HTTP/1.1" 202' in line
    ]
    assert len(posts) == accepted  # every access line written, from both processes


def test_a_worker_that_dies_stops_the_server_with_status_1(served: Served) -> None:
    killed, survivor = sorted(served.workers())
    os.kill(killed, signal.SIGKILL)
    assert served.proc.wait(timeout=60) == 1, served.err.read_text()
    text = served.err.read_text()
    assert f"(pid {killed}) exited with status -9; stopping the others" in text, text
    assert f"INFO:     Finished server process [{survivor}]" in text.splitlines(), text


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path) -> None:
    database = tmp_path / "commandpost.db"
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--workers", "2", "--database-url", f"sqlite:///{database}"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for --workers" in result.output
    assert "write lock" in result.output and "PostgreSQL" in result.output
    assert not database.exists()  # refused before anything was done
