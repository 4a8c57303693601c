"""Notification fan-out to a local sink: committed messages → delivered, messages per second.

The sink is a minimal ASGI app under uvicorn in its own process on 127.0.0.1 (the far end,
not our code), so it does not share the sender's interpreter. The sender is the real
engine processor with real webhook channels (SSRF guard with 127.0.0.1 allowlisted, HMAC
signing, pinned connections), on SQLite and — when ``COMMANDPOST_TEST_PG_URL`` answers —
on PostgreSQL. ``run()`` returns rows of (figure, target, result, pass). Besides the wall-clock
rate it reports the sender's CPU time per delivered message (user + system, this process only):
on a busy shared machine the rate says more about the neighbours than about the code.

    .venv/bin/python -m bench.notify
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, func, select, text

from commandpost.clock import SystemClock
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.notify import service
from commandpost.notify.models import DELIVERED, OutgoingMessage
from commandpost.notify.sender import NotificationSender
from commandpost.settings import Settings

MESSAGES = 3000
DESTINATIONS = 100  # one incident paging many people: many webhook URLs on one sink
TARGET_PER_SECOND = 1000.0
Row = tuple[str, str, str, bool]
NOTES = """
**notify**: the sink is uvicorn in its own process; the sender is the real engine processor with
real webhook channels (SSRF guard, HMAC signature, pinned keep-alive sockets), 4 sending threads.
On a 2-core machine shared with other work the wall-clock rate mostly measures the neighbours
(each request waits for the sink process to be scheduled); the CPU time per delivered message is
the steadier figure of what the code costs.
"""


SINK = """
import sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


@contextmanager
def sink() -> Iterator[str]:
    """A minimal ASGI app answering 200 to everything, in its own process on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the bench sink did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def database(kind: str) -> Iterator[Engine | None]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = create_db_engine(f"sqlite:///{folder}/bench.db")
            migrate.upgrade(engine)
            yield engine
            engine.dispose()
        return
    admin_url = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"commandpost_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        yield None
        return
    engine = create_db_engine(admin_url.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fan_out(engine: Engine, url: str) -> dict[str, float]:
    """Enqueue MESSAGES pages, then run the sender until every one is delivered."""
    settings = Settings(
        database_url=str(engine.url),
        outbound_allowlist=["127.0.0.1"],
        webhook_signing_secret=SecretStr("bench"),
        notify_pass_wait_seconds=5.0,
    )
    sessions = make_session_factory(engine)
    clock = SystemClock()
    started = time.perf_counter()
    with sessions() as s:
        for i in range(MESSAGES):
            service.enqueue(
                s,
                key=f"bench/incident={i // DESTINATIONS}/person={i % DESTINATIONS}/channel=webhook",
                channel="webhook",
                destination=f"{url}/hooks/person-{i % DESTINATIONS}",
                subject=f"[SEV1] INC-{i // DESTINATIONS} payment webhook backlog",
                body="Runbook: https://runbooks.example/payments\nFirst move: scale the workers",
                severity="SEV1",
                incident_id=i // DESTINATIONS,
                person=f"person-{i % DESTINATIONS}",
                now=clock.now(),
            )
        s.commit()
    enqueued = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    sender = NotificationSender(settings, owner="bench")
    passes = 0
    deadline = time.monotonic() + 120  # bounded: a bench stops by itself
    try:
        while time.monotonic() < deadline:
            with sessions() as s:
                done = sender.run(s, clock.now())
                s.commit()
            passes += 1
            if done == 0:
                with sessions() as s:
                    if sender.next_due(s, clock.now()) is None:
                        break
    finally:
        sender.close()
    finished = time.perf_counter()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    with sessions() as s:
        delivered = s.scalar(
            select(func.count()).select_from(OutgoingMessage).where(OutgoingMessage.status == DELIVERED)
        )
    return {
        "enqueue_per_s": MESSAGES / (enqueued - started),
        "send_per_s": (delivered or 0) / (finished - enqueued),
        "delivered": float(delivered or 0),
        "passes": float(passes),
        "cpu_us": cpu / max(1, delivered or 0) * 1e6,
    }


def run() -> list[Row]:
    rows: list[Row] = []
    with sink() as url:
        for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            with database(kind) as engine:
                if engine is None:
                    rows.append(
                        (f"notify fan-out ({label})", f"≥ {TARGET_PER_SECOND:,.0f}/s", "no database", False)
                    )
                    continue
                result = fan_out(engine, url)
            complete = result["delivered"] == MESSAGES
            rows.append(
                (
                    f"notify fan-out to a local sink ({label}, {MESSAGES:,} webhooks, {DESTINATIONS} URLs)",
                    f"≥ {TARGET_PER_SECOND:,.0f}/s, 0 lost",
                    f"{result['send_per_s']:,.0f}/s, {MESSAGES - result['delivered']:.0f} lost, "
                    f"{result['passes']:.0f} passes",
                    complete and result["send_per_s"] >= TARGET_PER_SECOND,
                )
            )
            rows.append(
                (
                    f"notify sender CPU per delivered message ({label})",
                    "≤ 1 ms (≥ 1,000/s per core)",
                    f"{result['cpu_us']:,.0f} µs → {1e6 / result['cpu_us']:,.0f}/s per core",
                    result["cpu_us"] <= 1000,
                )
            )
            rows.append(
                (f"notify enqueue with redaction ({label})", "—", f"{result['enqueue_per_s']:,.0f}/s", True)
            )
    return rows


if __name__ == "__main__":
    for figure, target, result, ok in run():
        print(f"{'PASS' if ok else 'FAIL'}  {figure:<80} {target:<18} {result}")
