"""NUL characters never reach storage: every U+0000 in stored text becomes U+FFFD, on both databases.

PostgreSQL cannot store NUL in text or jsonb (psycopg raises ``DataError``: a 500, and senders
retry a 5xx forever) while SQLite stores it, so without this the two backends would disagree.
Replacing it (rather than refusing the request) keeps an alert whose label happens to hold a NUL:
it is still routed and paged, and the replacement character shows where the NUL was.

Three doors, one rule:
- :func:`install` on an engine: ORM and Core statements (every API, page and engine write) have
  their string parameters cleaned, and JSON columns are serialised by :func:`json_dumps`;
- :func:`clean_json_bytes` on an intake body before it is parsed: the intake's fast path writes
  through the DBAPI cursor, below SQLAlchemy's events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, event

NUL = "\x00"
REPLACEMENT = "\ufffd"
# a JSON \u0000 escape: preceded by an even number of backslashes (an odd one escapes the backslash)
_ESCAPED_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def clean_value(value: Any) -> Any:
    """A JSON-like value with NUL replaced in every string, keys included."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean_value(v) for v in value)
    return value


def json_dumps(value: Any) -> str:
    """SQLAlchemy's JSON serialiser (``json.dumps``), NUL-free; the cleaning walk only when one is there."""
    text = json.dumps(value)
    return text if "\\u0000" not in text else json.dumps(clean_value(value))


def clean_json_bytes(body: bytes) -> bytes:
    """A JSON document with every ``\\u0000`` escape made ``\\ufffd`` (a raw NUL byte is not JSON)."""
    if b"u0000" not in body:
        return body
    return _ESCAPED_NUL.sub(rb"\1\\ufffd", body)


def _clean_row(row: Any) -> Any:
    """One statement's parameters (a mapping or a sequence; anything else passes), cleaned only if needed."""
    if isinstance(row, Mapping):
        if any(type(v) is str and NUL in v for v in row.values()):
            return {k: clean_value(v) if type(v) is str else v for k, v in row.items()}
    elif isinstance(row, list | tuple) and any(type(v) is str and NUL in v for v in row):
        return type(row)(clean_value(v) if type(v) is str else v for v in row)
    return row


def install(engine: Engine) -> None:
    """Clean the string parameters of every statement the engine executes."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _no_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> Any:
        if not parameters:
            return statement, parameters
        if many and isinstance(parameters, list | tuple):
            return statement, type(parameters)(_clean_row(row) for row in parameters)
        return statement, _clean_row(parameters)
