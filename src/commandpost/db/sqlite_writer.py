"""How commandpost writes to SQLite quickly: the pragmas of every connection, and a hot writer's own.

Every connection (:func:`configure`): WAL journal, foreign keys on, a busy timeout and
``synchronous=NORMAL`` (a WAL commit does not wait for the disk). Sessions that write begin with
``BEGIN IMMEDIATE``, so a writer takes the lock up front instead of failing when it upgrades a read
lock; those bound with ``sqlite_begin="DEFERRED"`` only read and never block a writer.

A hot writer (the alert intake) goes further. It takes a connection of its own with pragmas of its
own (:func:`open_session`, given back to the pool as it came by :func:`close_session`); it may ask
for the write lock every :data:`LOCK_POLL_SECONDS` (:func:`take_write_lock`) rather than through
SQLite's busy handler, whose sleeps grow to 100 ms and starve it beside a writer that pauses between
transactions; and it may leave the copying of the WAL into the database file to a
:class:`WalCheckpointer` instead of doing it as it commits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

log = logging.getLogger("commandpost.db")

LOCK_POLL_SECONDS = 0.001
CHECKPOINT_SECONDS = 1.0
"""A :class:`WalCheckpointer` copies the WAL in at most this often."""
RESTART_WAL_FRAMES = 4096
"""A WAL past this many pages (16 MiB) is started over at the next checkpoint."""
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
_PRAGMAS = "sqlite_writer.pragmas"
BEGINS = {kind: f"BEGIN {kind}" for kind in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


def configure(engine: Engine, busy_timeout_ms: int) -> None:
    """The pragmas of every new connection, and the BEGIN of every transaction (see above)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own BEGIN handling is off so SQLAlchemy's "begin" emits BEGIN IMMEDIATE below:
        # a writer takes the lock up front instead of failing on upgrade (SQLITE_BUSY mid-transaction).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front (IMMEDIATE); read-only sessions stay DEFERRED and never block one.
        # Sent on the DBAPI connection: through SQLAlchemy's execution path this one statement cost
        # more than the rest of a one-request intake transaction's bookkeeping. Its error is wrapped
        # as SQLAlchemy's would be (an OperationalError for "database is locked": is_busy below).
        statement = BEGINS[conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")]
        try:
            conn.connection.dbapi_connection.execute(statement)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error, dialect=conn.dialect) from exc


def open_session(sessions: sessionmaker[Session], **pragmas: int) -> Session:
    """A session on a connection of its own with these pragmas set (``busy_timeout=0``: never wait
    for the lock; ``wal_autocheckpoint=0``: never checkpoint on commit)."""
    connection: Connection = sessions.kw["bind"].connect()
    try:
        before = _set_pragmas(connection, **pragmas)
    except BaseException:
        connection.close()
        raise
    session = sessions(bind=connection)
    session.info[_PRAGMAS] = before
    return session


def close_session(session: Session) -> None:
    """Close a session of :func:`open_session`; its connection goes back to the pool as it came."""
    connection = session.get_bind()
    before = session.info.get(_PRAGMAS)
    session.close()
    if isinstance(connection, Connection):
        try:
            _set_pragmas(connection, **(before or {}))
        except Exception:
            connection.invalidate()
        connection.close()


def _set_pragmas(connection: Connection, **values: int) -> dict[str, int]:
    """Set SQLite pragmas on this connection; returns the values they had."""
    cursor = connection.connection.cursor()
    before = {}
    try:
        for name, value in values.items():
            cursor.execute(f"PRAGMA {name}")
            row = cursor.fetchone()
            if row is not None:
                before[name] = int(row[0])
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    finally:
        cursor.close()
    return before


def take_write_lock(session: Session) -> None:
    """``BEGIN IMMEDIATE`` every :data:`LOCK_POLL_SECONDS` until it succeeds, for as long as the
    connection's own busy timeout would have waited (as :func:`open_session` found it)."""
    timeout = session.info.get(_PRAGMAS, {}).get("busy_timeout", 5000) / 1000
    for attempt in Retrying(
        retry=retry_if_exception(is_busy),
        wait=wait_fixed(LOCK_POLL_SECONDS),
        stop=stop_after_delay(timeout),
        before_sleep=lambda _state: session.rollback(),
        reraise=True,
    ):
        with attempt:
            session.connection()


def is_busy(exc: BaseException) -> bool:
    """SQLite said its write lock is taken (SQLITE_BUSY), rather than anything being wrong."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class WalCheckpointer:
    """Copies the WAL into the database file on a thread of its own, beside a writer that does not.

    A connection checkpoints as it commits by default (every 1,000 pages, copying and syncing
    them: tens of milliseconds of the commit). A copy made beside the writer's commits cannot reach
    the end of the WAL, so SQLite never starts the file over; once it has grown past
    :data:`RESTART_WAL_FRAMES`, :attr:`restart_due` asks the writer to copy the few frames
    committed since itself (:meth:`finish`), before its next commit, which then starts over.
    """

    def __init__(self, sessions: sessionmaker[Session], *, thread_name: str) -> None:
        self._sessions = sessions
        self._thread_name = thread_name
        self._last = time.monotonic()
        self.running = False
        self.restart_due = False

    def due(self, now: float) -> bool:
        """Time for another copy (``now`` from :func:`time.monotonic`), and none is running."""
        return now - self._last >= CHECKPOINT_SECONDS and not self.running

    def start(self) -> None:
        """Copy the WAL in on a new thread, while the writer goes on."""
        self.running = True
        threading.Thread(target=self._run, name=self._thread_name, daemon=True).start()

    def _run(self) -> None:
        try:
            connection = self._sessions.kw["bind"].raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(CHECKPOINT)
                row = cursor.fetchone()
                cursor.close()
            finally:
                connection.close()
            self.restart_due = row is not None and row[1] >= RESTART_WAL_FRAMES
        except Exception as exc:  # the next one tries again; other connections checkpoint too
            log.warning("WAL checkpoint failed: %s", exc)
        finally:
            self._last = time.monotonic()
            self.running = False

    def finish(self, writer_session: Callable[[], Session]) -> None:
        """The rest of the WAL copied on the writer's own connection (:func:`open_session`), outside
        any transaction, so that its next commit starts the WAL over."""
        self.restart_due = False
        bind = writer_session().get_bind()
        assert isinstance(bind, Connection)  # the writer's own connection
        cursor = bind.connection.cursor()  # the DBAPI connection: outside any transaction
        try:
            cursor.execute(CHECKPOINT)
        finally:
            cursor.close()
