"""Fixtures: every database test runs on SQLite *and* PostgreSQL, with a frozen clock.

PostgreSQL comes from ``COMMANDPOST_TEST_PG_URL`` (``make test`` sets it to the
local ``test`` database); each run creates its own database there and drops it
at the end. If PostgreSQL is unreachable the tests that need it fail loudly —
nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from commandpost import wiring
from commandpost.app import create_app
from commandpost.clock import FrozenClock
from commandpost.db import migrate
from commandpost.db.base import Base
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.settings import Settings

PG_ADMIN_URL = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); the test fails, loudly, if unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is unreachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc}).\n"
            "These tests run on PostgreSQL as well as SQLite and are never skipped. Start it with:\n"
            "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "or point COMMANDPOST_TEST_PG_URL at a server where the user may CREATE DATABASE.",
            pytrace=False,
        )
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once."""
    with pg_database("commandpost_test") as url:
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "commandpost.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    engine = create_db_engine(url)
    with engine.begin() as conn:
        _empty(conn)
    engine.dispose()


def _empty(conn: Connection) -> None:
    """Every table emptied and every sequence back at 1, as TRUNCATE … RESTART IDENTITY would leave
    them, in a few milliseconds: DELETE of a table this small is cheap where TRUNCATE makes new files
    for all 37 tables (≈0.2 s a test)."""
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # the append-only triggers too
    conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)))
    sequences = conn.exec_driver_sql("SELECT schemaname || '.' || sequencename FROM pg_sequences").scalars()
    resets = ", ".join(f"setval('{name}', 1, false)" for name in sequences)
    if resets:
        conn.exec_driver_sql(f"SELECT {resets}")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A read-only session for assertions (on SQLite it never holds the write lock)."""
    with make_session_factory(engine, read_only=True)() as s:
        yield s


def pytest_configure(config: pytest.Config) -> None:
    """Wired before any fixture of any scope runs (module fixtures load ops folders, which checks them)."""
    wiring.wire(Settings(engine_enabled=False))


@pytest.fixture(autouse=True)
def wired() -> None:
    """Every test starts in a process the composition root wired (as ``serve`` and the CLI do), with
    default settings; a test that wires its own settings (an app, a public URL) affects only itself."""
    wiring.wire(Settings(engine_enabled=False))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 24, 3, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, engine_enabled=False)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, engine=engine, run_engine=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_token(sessions: sessionmaker[Session], clock: FrozenClock) -> Callable[..., str]:
    """``make_token("responder", person="yuta")`` → a plaintext bearer token."""
    from commandpost.security import service

    def make(scope: str = "admin", *, person: str = "yuta") -> str:
        with sessions() as s:
            _row, plaintext = service.create_token(
                s, person=person, scope=scope, now=clock.now(), people={person.lstrip("@")}
            )
            s.commit()
        return plaintext

    return make


@pytest.fixture
def auth(make_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``auth("responder", person="hana")`` → request headers with a fresh bearer token."""

    def headers(scope: str = "admin", *, person: str = "yuta") -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(scope, person=person)}"}

    return headers


@pytest.fixture
def applied_ops(sessions: sessionmaker[Session], clock: FrozenClock):  # type: ignore[no-untyped-def]
    """``examples/ops`` applied (committed) on the test database; returns its OpsConfig."""
    from commandpost.policy import service as policy_service

    with sessions() as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=clock.now(), actor="test")
        s.commit()
        return policy_service.current_config(s)


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A folder holding the SNS test signer's certificate, as ``sns_cert_dir`` (tests/fixtures/sns)."""
    from tests.fixtures.sns import signer

    folder = tmp_path / "sns-certs"
    folder.mkdir()
    signer.write_cert(folder, signer.certificate(signer.private_key()))
    return folder
