"""The database cannot serve the request now → 503 with Retry-After and the one error shape, never a 500
with a traceback; nothing stored changes; an intake batch fails all its requests at once.

SQLite: another process holds the write lock past the busy timeout; the disk (here: the database's
page budget) is full. PostgreSQL: the server refuses connections.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from commandpost.app import create_app
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.incidents.models import Incident
from commandpost.security import service as security_service
from commandpost.settings import Settings
from tests.alert_support import keys, pd_trigger, serve

BUSY_MS = 1000


def _token(sessions, clock) -> dict[str, str]:
    with sessions() as s:
        _row, plaintext = security_service.create_token(
            s, person="hana", scope="responder", now=clock.now(), people={"hana"}
        )
        s.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def _incidents(sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Incident)) or 0)


def _refused(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0
    error = r.json()["error"]
    assert error["code"] == "unavailable" and "retry" in error["message"] and "Traceback" not in r.text


@pytest.fixture
def sqlite_app(tmp_path, sqlite_template, clock):
    import shutil

    path = tmp_path / "locked.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_db_engine(url, busy_timeout_ms=BUSY_MS)
    sessions = make_session_factory(engine)
    from commandpost.policy import service as policy_service
    from tests.conftest import EXAMPLE_OPS

    with sessions() as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=clock.now(), actor="test")
        s.commit()
    settings = Settings(database_url=url, engine_enabled=False, sqlite_busy_timeout_ms=BUSY_MS)
    app = create_app(settings, clock=clock, engine=engine, run_engine=False)
    yield app, path, sessions
    engine.dispose()


class Holder:
    """Another process's writer: holds SQLite's write lock until released."""

    def __init__(self, path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_a_write_while_another_process_holds_the_lock_is_503_then_works(sqlite_app, clock):
    app, path, sessions = sqlite_app
    headers = _token(sessions, clock)
    body = {"title": "checkout slow", "severity": "SEV3"}
    with TestClient(app, raise_server_exceptions=False) as client:
        holder = Holder(path)
        try:
            started = time.monotonic()
            _refused(client.post("/api/v1/incidents", json=body, headers=headers))
            assert time.monotonic() - started < 3  # the busy timeout, not a wait per retry
        finally:
            holder.release()
        assert _incidents(sessions) == 0
        assert client.post("/api/v1/incidents", json=body, headers=headers).status_code == 201
    assert _incidents(sessions) == 1


def test_an_intake_batch_fails_all_its_requests_at_once_while_locked(sqlite_app):
    app, path, sessions = sqlite_app
    key = keys(sessions)["pagerduty"]
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        holder = Holder(path)
        try:
            start = threading.Event()

            def post(n: int) -> tuple[int, float, httpx.Response]:
                start.wait()
                t0 = time.monotonic()
                r = http.post("/v2/enqueue", content=orjson.dumps(pd_trigger(key, dedup_key=f"k{n}")))
                return n, time.monotonic() - t0, r

            with ThreadPoolExecutor(10) as pool:
                futures = [pool.submit(post, n) for n in range(10)]
                start.set()
                results = [f.result() for f in futures]
        finally:
            holder.release()
    for _n, _seconds, r in results:
        assert r.status_code == 503, r.text
        assert int(r.headers["Retry-After"]) > 0
    slowest = max(seconds for _n, seconds, _r in results)
    assert slowest < 4 * BUSY_MS / 1000, f"the last client waited {slowest:.1f} s: the batch was replayed"


def test_a_full_database_is_503_and_nothing_is_lost(sqlite_app, clock):
    app, _path, sessions = sqlite_app
    headers = _token(sessions, clock)
    engine = sessions.kw["bind"]
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_conn, _record):  # SQLite's own "database or disk is full" (SQLITE_FULL)
        dbapi_conn.execute(f"PRAGMA max_page_count = {int(pages) + 2}")

    engine.dispose()
    big = {"title": "disk full", "severity": "SEV3", "summary": "x" * 20_000, "impact": "y" * 20_000}
    with TestClient(app, raise_server_exceptions=False) as client:
        _refused(client.post("/api/v1/incidents", json=big, headers=headers))
    assert _incidents(sessions) == 0


def test_postgresql_refusing_connections_is_503(clock):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    engine = create_db_engine(url)
    app = create_app(
        Settings(database_url=url, engine_enabled=False), clock=clock, engine=engine, run_engine=False
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        _refused(client.get("/api/v1/incidents", headers={"Authorization": "Bearer cp_whatever"}))
        _refused(client.post("/v2/enqueue", content=orjson.dumps(pd_trigger("0" * 32))))
    engine.dispose()
