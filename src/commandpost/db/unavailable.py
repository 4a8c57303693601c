"""When the database cannot serve a request right now: a 503 with Retry-After, never a 500.

Another process holding SQLite's write lock past the busy timeout, a full disk, a PostgreSQL server
that refuses connections or is shutting down, an exhausted connection pool: none of these is the
request's fault or a bug, and a sender that gets a 503 retries later (Alertmanager and the
PagerDuty clients retry 5xx; a person sees "try again in a few seconds" instead of a traceback).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from commandpost.errors import Unavailable

RETRY_AFTER_SECONDS = 5
_SQLITE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
}
# PostgreSQL SQLSTATE classes: connection exception, insufficient resources (disk full, out of
# memory, too many connections), operator intervention (shutdown, cannot connect now)
_PG_CLASSES = {"08", "53", "57"}


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot take the request now (rather than what was asked)."""
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_CODES
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return str(sqlstate)[:2] in _PG_CLASSES
    import psycopg

    # connection refused / reset: psycopg raises OperationalError with no SQLSTATE
    return isinstance(original, psycopg.OperationalError)


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 to answer for ``error``, or None when it is something else."""
    if not is_unavailable(error):
        return None
    return Unavailable(
        "the database cannot take this request right now (busy, full or unreachable); "
        f"nothing was changed — retry in {RETRY_AFTER_SECONDS} s",
        retry_after=RETRY_AFTER_SECONDS,
    )
