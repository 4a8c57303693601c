"""The database layer on both backends: the engine's settings, URL forms, and the schema from empty."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError

import commandpost.models_registry  # noqa: F401
from commandpost.db import migrate, sqlite_writer
from commandpost.db.base import Base
from commandpost.db.engine import create_db_engine, make_session_factory, normalize_url
from commandpost.errors import ValidationFailed
from tests.conftest import BACKENDS, PG_ADMIN_URL


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path}/empty.db")
        yield engine
        engine.dispose()
        return
    name = f"commandpost_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_db_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_upgrade_an_empty_database_to_head(empty_engine):
    assert inspect(empty_engine).get_table_names() == []
    assert migrate.current_revisions(empty_engine) == frozenset()
    assert not migrate.is_current(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revisions(empty_engine) == migrate.head_revisions(empty_engine) == migrate.HEADS
    assert migrate.is_current(empty_engine)
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())


def test_constraint_names_follow_the_naming_convention(engine):
    """Named constraints let later migrations alter them on both databases (SQLite batch mode too)."""
    insp = inspect(engine)
    assert insp.get_pk_constraint("api_token")["name"] == "pk_api_token"
    assert {u["name"] for u in insp.get_unique_constraints("api_token")} == {"uq_api_token_token_hash"}
    assert {fk["name"] for fk in insp.get_foreign_keys("audit_log")} == {"fk_audit_log_token_id_api_token"}


def test_foreign_keys_are_enforced(sessions):
    """SQLite ignores foreign keys unless told (PRAGMA foreign_keys=ON); PostgreSQL always enforces them."""
    with sessions() as s, pytest.raises(IntegrityError):
        s.execute(
            text(
                "INSERT INTO audit_log (at, actor, token_id, action, target, details) "
                "VALUES (CURRENT_TIMESTAMP, 'yuta', 999999, 'test', '', '{}')"
            )
        )
        s.flush()


def test_the_engine_is_set_up_for_its_backend(engine, db_url):
    with engine.connect() as conn:
        if db_url.startswith("sqlite"):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        else:
            assert engine.dialect.driver == "psycopg"
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_sqlite_writers_take_the_lock_up_front_and_readers_do_not(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/lock.db", busy_timeout_ms=200)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        writer = make_session_factory(engine)()
        writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here
        with make_session_factory(engine, read_only=True)() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0  # a reader still reads
        second = make_session_factory(engine)()
        with pytest.raises(OperationalError, match="locked") as refused:
            second.execute(text("SELECT 1"))  # a second writer waits, then gives up
        # SQLAlchemy's error, as the intake's fallback to its writer thread and the 503s expect
        assert sqlite_writer.is_busy(refused.value) and "BEGIN IMMEDIATE" in str(refused.value)
        second.close()
        writer.close()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///var/commandpost.db", "sqlite:///var/commandpost.db"),
    ],
)
def test_database_urls_people_paste_use_psycopg_3(url, expected):
    assert normalize_url(url) == expected
    if expected.startswith("postgresql"):
        assert create_db_engine(url).dialect.driver == "psycopg"


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "not a url", "mysql://app:s3cr3t-pw@h/db", "postgresql://app:s3cr3t-pw@h:port/db"],
)
def test_unsupported_database_urls_are_refused_without_their_password(url):
    with pytest.raises(ValidationFailed) as refused:
        create_db_engine(url)
    assert "s3cr3t" not in str(refused.value) and "database URL" in str(refused.value)
    if ":s3cr3t" in url:
        assert "app:***@h" in str(refused.value)
