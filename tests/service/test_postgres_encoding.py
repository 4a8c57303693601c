"""A PostgreSQL database created as SQL_ASCII (``initdb`` without a UTF-8 locale, as a container's
first start can do) still serves commandpost: psycopg returned its text as bytes and SQLAlchemy failed
at connect with "cannot use a string pattern on a bytes-like object". Connections now ask for UTF-8."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from tests.conftest import PG_ADMIN_URL

TITLE = "Zahlungen verzögert — 決済の遅延 ✓"


def test_a_sql_ascii_database_is_migrated_and_keeps_text_whole() -> None:
    name = f"commandpost_sqlascii_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0"
                " LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        )
    try:
        engine = create_db_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        with engine.connect() as conn:
            assert conn.execute(text("SHOW server_encoding")).scalar() == "SQL_ASCII"
        migrate.upgrade(engine)
        assert migrate.current_revisions(engine) == migrate.HEADS
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            session.execute(text("CREATE TEMP TABLE t (v text)"))
            session.execute(text("INSERT INTO t VALUES (:v)"), {"v": TITLE})
            assert session.execute(text("SELECT v FROM t")).scalar() == TITLE
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
