"""What every check runs against: a fresh database, the example ops with every contact pointed at a local
HTTP sink, and real ``commandpost serve`` processes on free 127.0.0.1 ports that can be SIGKILLed and
restarted.

The database is migrated and the ops applied here, before any server starts, so replicas starting
together never race on a migration. Servers run under :mod:`reliability.guarded` (no traffic off
loopback) with their output appended to one log file per server, kept across restarts.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from tests.alert_support import free_port
from tests.integration.notify_sink import Sink, start_sink, stop_sink
from tests.paging_support import REPO, ops_variant
from tests.rotation_week import shift_rotations

from commandpost.clock import SystemClock
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.policy import service as policy_service
from commandpost.security import service as security_service

PG_ADMIN_URL = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
Edits = dict[str, Callable[[dict[str, Any]], None]]
START_TIMEOUT = 180.0
"""Seconds a server may take to answer /readyz (the shared machine can be very slow to import)."""


# ------------------------------------------------------------------ databases


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file in ``folder`` or a new PostgreSQL database, dropped after."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'commandpost.db'}"
        _migrate(url)
        yield url
        return
    name = f"commandpost_rel_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


# ------------------------------------------------------------------ ops


def sink_ops(folder: Path, sink_url: str, edits: Edits | None = None) -> Path:
    """examples/ops with every person paged by webhook at ``<sink>/hook/<handle>`` and every team channel
    posting to ``<sink>/chan/<team>``: nothing is addressed outside this machine."""

    def people(data: dict[str, Any]) -> None:
        for person in data["people"]:
            person["contact"] = {"webhook": f"{sink_url}/hook/{person['handle']}"}
            person.pop("notify", None)
            person.pop("notification_rules", None)
        for team in data["teams"]:
            if "channel" in team:
                team["channel"]["slack_webhook"] = f"{sink_url}/chan/{team['name']}"

    # on the real clock: the rotation week the tests ask for (tests/rotation_week.py; this week by default)
    return shift_rotations(ops_variant(folder, {"people.yaml": people, **(edits or {})}))


def apply_ops(url: str, ops: Path) -> None:
    with sessions_of(url) as sessions, transaction(sessions) as s:
        policy_service.apply_folder(s, path=ops, now=SystemClock().now(), actor="reliability")


def integration_keys(url: str) -> dict[str, str]:
    """source → integration key of the applied ops."""
    with sessions_of(url) as sessions, sessions() as s:
        return {k.source: k.key for k in policy_service.list_integrations(s)}


def token(url: str, scope: str, person: str = "yuta") -> str:
    with sessions_of(url) as sessions, transaction(sessions) as s:
        _row, plaintext = security_service.create_token(
            s,
            person=person,
            scope=scope,
            name=f"reliability {scope}",
            now=SystemClock().now(),
            people=policy_service.people_handles(s),
        )
    return plaintext


@contextlib.contextmanager
def sessions_of(url: str, *, read_only: bool = False) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(url)
    try:
        yield make_session_factory(engine, read_only=read_only)
    finally:
        engine.dispose()


@contextlib.contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    """An engine for reading what the servers wrote: on SQLite its transactions are DEFERRED, so an
    assertion never holds the write lock a server is waiting for."""
    engine = create_db_engine(url)
    try:
        yield engine.execution_options(sqlite_begin="DEFERRED")
    finally:
        engine.dispose()


# ------------------------------------------------------------------ servers


class _Zygote:
    """The one :mod:`reliability.zygote` of this run, started on first use."""

    process: subprocess.Popen[str] | None = None
    lock = threading.Lock()

    @classmethod
    def spawn(cls, args: list[str], env: dict[str, str], log: Path) -> int:
        with cls.lock:
            if cls.process is None or cls.process.poll() is not None:
                cls.process = subprocess.Popen(
                    [sys.executable, "-m", "reliability.zygote"],
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                atexit.register(cls.close)
                assert cls.process.stdout is not None
                if cls.process.stdout.readline().strip() != "ready":
                    raise RuntimeError("the reliability zygote did not start")
            assert cls.process.stdin is not None and cls.process.stdout is not None
            cls.process.stdin.write(json.dumps({"args": args, "env": env, "log": str(log)}) + "\n")
            cls.process.stdin.flush()
            return int(cls.process.stdout.readline())

    @classmethod
    def close(cls) -> None:
        if cls.process is not None and cls.process.poll() is None:
            assert cls.process.stdin is not None
            cls.process.stdin.close()
            cls.process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Server:
    """One ``commandpost serve`` process on a fixed free port; ``start`` again after a kill reuses it."""

    url: str
    folder: Path
    name: str = "serve"
    env: dict[str, str] = field(default_factory=dict)
    engine: bool = True
    port: int = field(default_factory=free_port)
    pid: int | None = None
    starts: int = 0
    ready_at: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def connect_log(self) -> Path:
        return self.folder / f"{self.name}.connections"

    @property
    def running(self) -> bool:
        return self.pid is not None and _alive(self.pid)

    def start(self, timeout: float = START_TIMEOUT) -> float:
        """Fork a server and wait until /readyz answers 200; returns the seconds that took."""
        env = {
            "COMMANDPOST_LOG_LEVEL": "WARNING",
            "COMMANDPOST_SLACK_MIN_INTERVAL_SECONDS": "0",
            "RELIABILITY_CONNECT_LOG": str(self.connect_log),
            **self.env,
        }
        args = ["serve", "--database-url", self.url, "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--engine" if self.engine else "--no-engine"]
        started = time.monotonic()
        with self.log_path.open("a") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n")
        self.pid = _Zygote.spawn(args, env, self.log_path)
        self.starts += 1
        deadline = started + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.base}/readyz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}")
                time.sleep(0.02)
        self.ready_at = time.monotonic()
        return self.ready_at - started

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight requests and transactions are cut."""
        self._signal(signal.SIGKILL, 30)

    def stop(self) -> None:
        """SIGTERM: uvicorn drains and the engine releases its lease; SIGKILL after 20 s."""
        if not self._signal(signal.SIGTERM, 20):
            self.kill()

    def _signal(self, sig: int, timeout: float) -> bool:
        if self.pid is None or not _alive(self.pid):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        return wait_until(lambda: not _alive(self.pid or 0), timeout, every=0.01)

    def rss_kib(self) -> int:
        """Resident set size of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def outbound_attempts(self) -> list[str]:
        """Non-loopback connections and name lookups the guard refused (should be none)."""
        if not self.connect_log.exists():
            return []
        return [line for line in self.connect_log.read_text().splitlines() if line.strip()]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ------------------------------------------------------------------ one environment


@dataclass
class Stack:
    """A database, its ops, a sink and the servers started on them."""

    backend: str
    url: str
    folder: Path
    sink: Sink
    ops: Path
    servers: list[Server] = field(default_factory=list)

    def server(self, name: str = "serve", *, start: bool = True, **kw: Any) -> Server:
        env = {"COMMANDPOST_OUTBOUND_ALLOWLIST": "127.0.0.1", **kw.pop("env", {})}
        server = Server(self.url, self.folder, name=name, env=env, **kw)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def keys(self) -> dict[str, str]:
        return integration_keys(self.url)

    def token(self, scope: str = "admin", person: str = "yuta") -> str:
        return token(self.url, scope, person)


@contextlib.contextmanager
def stack(
    backend: str,
    *,
    edits: Edits | None = None,
    keep: bool = False,
) -> Iterator[Stack]:
    """A fresh database with the sink ops applied; stops every server, the sink and the database after."""
    folder = Path(tempfile.mkdtemp(prefix=f"reliability-{backend}-"))
    sink = start_sink()
    sink.server.handle_error = quiet_errors  # type: ignore[method-assign]  # resets from SIGKILLed senders
    try:
        ops = sink_ops(folder, sink.url, edits)
        with database(backend, folder) as url:
            apply_ops(url, ops)
            env = Stack(backend, url, folder, sink, ops)
            try:
                yield env
            finally:
                for server in env.servers:
                    server.kill()
    finally:
        stop_sink(sink)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def quiet_errors(request: Any, client_address: Any) -> None:
    """A sender killed mid-request resets its connection: expected here, not worth a traceback."""


def wait_until(predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
