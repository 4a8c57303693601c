"""The export document, and backup, restore and import built on it.

An export is one JSON document: ``format``, ``version``, the ``schema_revision`` it was read at, and
every table's rows (sorted by primary key, keys sorted), so the same data always gives the same bytes
and ``export → import → export`` can be compared byte for byte. Values are stored as they are in the
database — redacted text stays redacted. Times are ISO 8601 in UTC.

Three tables are left out: ``incident_response`` and its two rollups are kept by triggers on
``incident`` (migration 0010), which rebuild them as the incidents are inserted.

A backup of SQLite is the file copied with SQLite's online backup API (one step, in a read
transaction: writers go on, WAL mode). A backup of PostgreSQL is the export read in one
``REPEATABLE READ`` read-only transaction: a consistent snapshot while the server writes. A restore
reads either kind and imports it; both write only into an empty database.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator

import commandpost.models_registry  # noqa: F401  (every table on Base.metadata)
from commandpost.db import migrate
from commandpost.db.base import Base, UTCDateTime
from commandpost.errors import CommandpostError, Conflict, ValidationFailed

FORMAT = "commandpost-export"
VERSION = 1
MAX_BYTES = 2 * 1024**3
"""The largest file import and restore read (the document is held in memory while it is checked)."""
SQLITE_MAGIC = b"SQLite format 3\x00"
BATCH = 1000
DERIVED = frozenset({"incident_response", "incident_response_day", "incident_response_hist"})
"""Rebuilt by the triggers on ``incident`` when its rows are inserted: never exported."""
PASSWORD_HASH = ("user", "password_hash")
SESSIONS = "web_session"
"""Browser sessions are credentials as much as the password hashes: exported only with them."""
NO_HASH = ""
"""A password hash left out: no password matches it, so the user logs in once an admin sets one."""

Progress = Callable[[str, int, int], None]
"""Called as rows move: (table, rows done so far, rows in all)."""


def tables() -> list[Table]:
    """Every exported table, parents before children (foreign-key order)."""
    return [t for t in Base.metadata.sorted_tables if t.name not in DERIVED]


# ---------------------------------------------------------------- export


def export_data(engine: Engine, *, password_hashes: bool, progress: Progress | None = None) -> dict[str, Any]:
    """Every table's rows, read in one transaction (a consistent snapshot on both databases)."""
    with _snapshot(engine) as conn:
        revision = ", ".join(sorted(_revisions(conn))) or "empty"
        if revision != migrate.HEAD:
            raise ValidationFailed(
                f"the database is at schema {revision}, this commandpost exports {migrate.HEAD}: "
                "run 'commandpost db upgrade' first"
            )
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables()}
        total, done = sum(counts.values()), 0
        out: dict[str, list[dict[str, Any]]] = {}
        for table in tables():
            if table.name == SESSIONS and not password_hashes:
                out[table.name] = []
                continue
            rows = [_dump_row(table, row._mapping) for row in conn.execute(select(table))]
            if table.name == PASSWORD_HASH[0] and not password_hashes:
                for row in rows:
                    row[PASSWORD_HASH[1]] = NO_HASH
            keys = [c.name for c in table.primary_key.columns]
            rows.sort(key=lambda row: tuple(row[k] for k in keys))
            out[table.name] = rows
            done += counts[table.name]
            if progress:
                progress(table.name, done, total)
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": migrate.HEAD,
        "password_hashes": password_hashes,
        "tables": out,
    }


def dumps(doc: dict[str, Any]) -> str:
    """The document's text: sorted keys, one value per line, so equal data gives equal bytes."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def write_file(path: Path, content: str) -> None:
    """Write ``path`` readable by its owner only (it holds every secret the database holds), atomically."""
    partial = path.with_name(path.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content.encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandpostError(f"{path}: cannot write it ({exc.strerror})") from exc


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        conn = engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    else:
        conn = engine.execution_options(sqlite_begin="DEFERRED").connect()
    with conn, conn.begin() as tx:
        yield conn
        tx.rollback()  # it only read


def _revisions(conn: Connection) -> set[str]:
    if not inspect(conn).has_table(migrate.VERSION_TABLE):
        return set()
    return set(conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalars())


def _kind(column: Column[Any]) -> str:
    kind = column.type
    while isinstance(kind, TypeDecorator) and not isinstance(kind, UTCDateTime):
        kind = kind.impl_instance
    for cls, name in ((UTCDateTime, "datetime"), (JSON, "json"), (Boolean, "bool"), (Integer, "int")):
        if isinstance(kind, cls):
            return name
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, String):
        return "str"
    raise TypeError(f"{column.table.name}.{column.name}: no export form for {kind!r}")  # a new column type


def _dump_row(table: Table, row: Any) -> dict[str, Any]:
    out = {}
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        out[column.name] = value
    return out


# ---------------------------------------------------------------- import


def read_file(path: Path, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """An export from ``path``, or a backup of SQLite read as one; any other file is refused."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ValidationFailed(f"{path}: cannot read it ({exc.strerror})") from exc
    if size > max_bytes:
        raise ValidationFailed(f"{path}: {size} bytes, more than the {max_bytes} import reads")
    if magic == SQLITE_MAGIC:
        return _export_of_sqlite_backup(path)
    data = path.read_bytes()
    if b"\x00" in data:
        raise ValidationFailed(f"{path}: holds NUL bytes; an export is UTF-8 JSON text")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path}: not UTF-8 text (byte {exc.start}); an export is UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{path}: not a complete JSON document ({exc.msg} at line {exc.lineno}); truncated?"
        ) from exc
    except RecursionError as exc:
        raise ValidationFailed(f"{path}: JSON nested too deeply to be an export") from exc
    return doc if isinstance(doc, dict) else {"format": None}


def import_data(engine: Engine, doc: dict[str, Any], *, progress: Progress | None = None) -> dict[str, int]:
    """Write an export into an empty database (upgraded to the head first); returns rows per table.

    Everything is checked before the database is touched, and the rows go in one transaction: a
    refused file or a failed insert leaves no row behind.
    """
    rows = validated_rows(doc)
    ensure_empty(engine)
    migrate.upgrade(engine)
    total, done = sum(len(r) for r in rows.values()), 0
    try:
        with engine.begin() as conn:
            for table in tables():
                batch = rows[table.name]
                for start in range(0, len(batch), BATCH):
                    conn.execute(table.insert(), batch[start : start + BATCH])
                    done += len(batch[start : start + BATCH])
                    if progress:
                        progress(table.name, done, total)
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise ValidationFailed(f"the database refused the import, nothing was written: {reason}") from exc
    return {name: len(r) for name, r in rows.items()}


def ensure_empty(engine: Engine) -> None:
    """Refuse a database holding any row: restore and import never merge into existing data."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in present:
                count = conn.execute(select(func.count()).select_from(table)).scalar_one()
                if count:
                    raise Conflict(
                        f"the database is not empty ({table.name} holds {count} rows): restore and import "
                        "write only into an empty database — a new SQLite file or a new PostgreSQL database"
                    )


def validated_rows(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The export's rows as the database takes them; anything unexpected is refused, naming where."""
    if doc.get("format") != FORMAT:
        raise ValidationFailed("not a commandpost export (its 'format' is not commandpost-export)")
    if doc.get("version") != VERSION:
        raise ValidationFailed(
            f"export version {doc.get('version')!r}: this commandpost reads version {VERSION}"
        )
    if doc.get("schema_revision") != migrate.HEAD:
        raise ValidationFailed(
            f"the export is of schema {doc.get('schema_revision')!r}, this commandpost's is {migrate.HEAD}: "
            "import it with the commandpost that wrote it, then upgrade that one"
        )
    given = doc.get("tables")
    if not isinstance(given, dict) or set(given) != {t.name for t in tables()}:
        names = set(given) if isinstance(given, dict) else set()
        missing = sorted({t.name for t in tables()} - names)
        unknown = sorted(names - {t.name for t in tables()})
        raise ValidationFailed(f"the export's tables differ: missing {missing}, unknown {unknown[:5]}")
    out = {}
    for table in tables():
        rows = given[table.name]
        if not isinstance(rows, list):
            raise ValidationFailed(f"{table.name}: rows must be a list")
        out[table.name] = [_load_row(table, n, row) for n, row in enumerate(rows)]
    return out


def _load_row(table: Table, n: int, row: Any) -> dict[str, Any]:
    where = f"{table.name} row {n}"
    if not isinstance(row, dict) or set(row) != {c.name for c in table.columns}:
        raise ValidationFailed(f"{where}: expected the columns {sorted(c.name for c in table.columns)}")
    return {c.name: _load_value(f"{where} {c.name}", c, row[c.name]) for c in table.columns}


def _load_value(where: str, column: Column[Any], value: Any) -> Any:
    if value is None:
        if not column.nullable:
            raise ValidationFailed(f"{where}: null in a column that is never null")
        return None
    kind = _kind(column)
    try:
        if kind == "json":
            _no_nul(where, value)
            return value
        if kind == "str" and isinstance(value, str):
            _no_nul(where, value)
            length = getattr(column.type, "length", None)
            if length is not None and len(value) > length:
                raise ValidationFailed(f"{where}: {len(value)} characters, the column holds {length}")
            return value
        if kind == "int" and type(value) is int:
            return value
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "datetime" and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValidationFailed(f"{where}: a time without its offset")
            return moment
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{where}: {exc}") from exc
    raise ValidationFailed(f"{where}: a {type(value).__name__} where the column holds {kind}")


def _no_nul(where: str, value: Any) -> None:
    """NUL never reaches storage (db/nul.py), so an export never holds one: a file that does is forged."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationFailed(f"{where}: holds a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(where, key)
            _no_nul(where, item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(where, item)


def _reset_sequences(conn: Connection) -> None:
    """Rows came with their ids: each serial sequence moves past the largest, as inserts would have."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({c}), 0) + 1, false) "
                'FROM "{t}"'.format(c=f'"{column.name}"', t=table.name)
            ),
            {"table": f'"{table.name}"', "column": column.name},
        )


# ---------------------------------------------------------------- backup and restore


def backup(engine: Engine, path: Path, *, progress: Progress | None = None) -> str:
    """Back the database up into ``path``; returns what was written ("sqlite" or "export")."""
    if engine.dialect.name != "sqlite":
        write_file(path, dumps(export_data(engine, password_hashes=True, progress=progress)))
        return "export"
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValidationFailed("an in-memory SQLite database has no file to back up")
    try:
        # mode=rw: a mistyped path is an error, not a new empty database backed up
        source = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=rw", uri=True, timeout=30)
        ours = source.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (migrate.VERSION_TABLE,)
        ).fetchone()
    except sqlite3.Error as exc:
        raise ValidationFailed(f"{database}: cannot open it as a SQLite database ({exc})") from exc
    if not ours:
        source.close()
        raise ValidationFailed(f"{database}: not a commandpost database (no schema revision)")
    if not path.parent.is_dir():
        source.close()
        raise CommandpostError(f"{path}: cannot write it (no directory {path.parent})")
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:  # beside the backup: room for a copy
        copy = Path(scratch) / "backup.db"
        target = sqlite3.connect(copy)
        try:

            def step(_status: int, remaining: int, pages: int) -> None:
                if progress:
                    progress("pages", pages - remaining, pages)

            # One step (pages=-1): the copy is read in one read transaction, a consistent snapshot
            # while writers go on in the WAL; in smaller steps each write would restart it.
            source.backup(target, pages=-1, progress=step)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            (check,) = target.execute("PRAGMA quick_check").fetchone()
        finally:
            target.close()
            source.close()
        if check != "ok":
            raise CommandpostError(f"the backup copy failed its check: {check}")
        os.chmod(copy, 0o600)  # made in a 0700 scratch directory: never readable by others on the way
        with copy.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(copy, path)
    return "sqlite"


def restore(engine: Engine, path: Path, *, progress: Progress | None = None) -> dict[str, int]:
    """Restore a backup (a SQLite copy or an export) into an empty database."""
    return import_data(engine, read_file(path), progress=progress)


def _export_of_sqlite_backup(path: Path) -> dict[str, Any]:
    """A SQLite backup as an export: checked, upgraded to the head (an older backup) in a scratch copy."""
    from commandpost.db.engine import create_db_engine

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "restore.db"
        shutil.copyfile(path, copy)
        try:
            with contextlib.closing(sqlite3.connect(copy)) as conn:
                (check,) = conn.execute("PRAGMA integrity_check").fetchone()
                if check != "ok":
                    raise ValidationFailed(f"{path}: a damaged SQLite file ({check})")
                tables_present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise ValidationFailed(f"{path}: not a readable SQLite database ({exc})") from exc
        if migrate.VERSION_TABLE not in tables_present:
            raise ValidationFailed(
                f"{path}: a SQLite file, but not a commandpost database (no schema revision)"
            )
        engine = create_db_engine(f"sqlite:///{copy}")
        try:
            migrate.upgrade(engine)
            return export_data(engine, password_hashes=True)
        except (SQLAlchemyError, CommandpostError) as exc:
            if isinstance(exc, ValidationFailed):
                raise
            raise ValidationFailed(f"{path}: cannot read it as a commandpost database ({exc})") from exc
        finally:
            engine.dispose()
