"""Engine and session factory for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from commandpost.db import nul, sqlite_writer
from commandpost.errors import ValidationFailed
from commandpost.security import stored


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def create_db_engine(url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    import commandpost.models_registry  # noqa: F401  (every table on Base.metadata, to redact each one)

    stored.install_all()  # before any statement: every text column redacts what is stored in it
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except Exception:
        raise ValidationFailed(f"database URL {shown(url)!r} is not a valid SQLAlchemy URL") from None
    kwargs: dict[str, Any] = {"echo": echo, "future": True, "json_serializer": nul.json_dumps}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        engine = create_engine(url, **kwargs)
        sqlite_writer.configure(engine, busy_timeout_ms)
        nul.install(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        # Text as UTF-8 whatever the database's encoding: on a SQL_ASCII database (initdb without a
        # UTF-8 locale) psycopg would hand back bytes and SQLAlchemy could not even read the version.
        kwargs["connect_args"] = {"client_encoding": "utf8"}
        engine = create_engine(url, **kwargs)
        nul.install(engine)
        return engine
    raise ValidationFailed(
        f"database URL {shown(url)!r}: only sqlite:/// and postgresql+psycopg:// are supported"
    )


def shown(url: str) -> str:
    """The URL as an error may show it: its password masked (``postgresql://app:***@db/cp``)."""
    return _PASSWORD.sub(r"\1***@", url)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for writing (the default) or for reading only (on SQLite: a deferred transaction)."""
    bind = engine.execution_options(sqlite_begin="DEFERRED") if read_only else engine
    factory = sessionmaker(bind=bind, expire_on_commit=False, future=True)
    # Every text and JSON column redacts what is bound to it (security.stored); the objects are
    # redacted too, so that what a caller holds after a flush is what was stored.
    stored.install_all()
    event.listen(factory, "before_flush", stored.before_flush)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session], *, commit: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. Services only flush.

    ``commit=False`` is a read that keeps nothing: it always rolls back (a public page, a feed).
    """
    session = factory()
    try:
        yield session
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
