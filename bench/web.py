"""Server-side render of the incident page with 5,000 timeline entries: p50 / p95 over repeated GETs.

The whole request goes through the app (session cookie, page unit of work, services, Jinja2) in
process with Starlette's TestClient, on SQLite and — when ``COMMANDPOST_TEST_PG_URL`` answers — on
PostgreSQL. The page renders the newest 200 entries (and "load earlier"), so its cost should not
grow with the timeline. ``run()`` returns rows of (figure, target, result, pass).

    .venv/bin/python -m bench web
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from commandpost.app import create_app
from commandpost.clock import SystemClock
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.incidents import service, timeline
from commandpost.policy import service as policy_service
from commandpost.security import users
from commandpost.settings import Settings

ENTRIES = 5000
REQUESTS = 60
WARMUP = 5
TARGET_P95_MS = 150.0
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ops"
PASSWORD = "bench password 1"
Row = tuple[str, str, str, bool]
NOTES = (
    "The incident page renders the newest 200 timeline entries server-side (older ones load on demand), "
    "so a 5,000-entry incident costs about what a 200-entry one does; the browser then follows the "
    "`after` cursor."
)


@contextmanager
def database(kind: str) -> Iterator[tuple[Engine, str] | None]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            engine = create_db_engine(url)
            migrate.upgrade(engine)
            yield engine, url
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
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        yield engine, url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(engine: Engine) -> str:
    """The example ops, a user, and INC-1 with ENTRIES timeline entries written by the service."""
    sessions = make_session_factory(engine)
    now = SystemClock().now()
    with transaction(sessions) as session:
        policy_service.apply_folder(session, path=EXAMPLE, now=now, actor="bench")
        config = policy_service.current_config(session)
        users.set_password(session, config=config, handle="yuta", password=PASSWORD, role="admin", now=now)
        incident = service.declare(
            session,
            title="Payment webhooks piling up",
            severity="SEV2",
            service="payment-platform",
            actor="yuta",
            now=now,
        )
        number = f"INC-{incident.number}"
    with transaction(sessions) as session:
        incident = timeline.incident(session, number=number, for_update=True)
        for i in range(timeline.count(session, incident=incident), ENTRIES):
            kind = ("note", "decision", "action")[i % 3]
            service.add_entry(
                session,
                incident=incident,
                kind=kind,
                text=f"entry {i}: queue depth {4812 - i}",
                actor="yuta",
                now=now,
            )
    return number


def measure(engine: Engine, url: str, number: str) -> list[float]:
    from fastapi.testclient import TestClient

    app = create_app(Settings(database_url=url, engine_enabled=False), engine=engine, run_engine=False)
    timings = []
    with TestClient(app) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        client.post("/login", data={"handle": "yuta", "password": PASSWORD, "csrf_token": token.group(1)})
        for i in range(WARMUP + REQUESTS):
            started = time.perf_counter()
            response = client.get(f"/incidents/{number}")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200 and "Load earlier entries" in response.text, (
                response.status_code
            )
            if i >= WARMUP:
                timings.append(elapsed)
    return timings


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def run() -> list[Row]:
    rows: list[Row] = []
    for kind in ("sqlite", "postgresql"):
        with database(kind) as found:
            if found is None:
                rows.append(
                    (f"incident page, {ENTRIES} entries ({kind})", "p95 ≤ 150 ms", "unreachable", False)
                )
                continue
            engine, url = found
            number = seed(engine)
            timings = measure(engine, url, number)
            p50, p95 = statistics.median(timings), _p95(timings)
            rows.append(
                (
                    f"incident page render, {ENTRIES} entries ({kind})",
                    f"p95 ≤ {TARGET_P95_MS:.0f} ms",
                    f"p50 {p50:.1f} ms, p95 {p95:.1f} ms ({REQUESTS} GETs)",
                    p95 <= TARGET_P95_MS,
                )
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(str(c) for c in row))
