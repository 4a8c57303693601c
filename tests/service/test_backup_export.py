"""Export, import, backup and restore of a whole database (commandpost.backup), on SQLite and PostgreSQL.

The dataset (tests/backup_support.py): a week of the demo's history written by the real services, and
intake, changes, an override and a web session through the real app.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from commandpost.backup import service
from commandpost.clock import FrozenClock
from commandpost.db import migrate
from commandpost.db.base import Base
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.demo import server as demo_server
from commandpost.errors import Conflict, Unauthorized, ValidationFailed
from commandpost.incidents import service as incidents
from commandpost.security import users
from tests.backup_support import END, derived_rows, empty_database, row_counts, seed
from tests.cli_support import run_cli
from tests.conftest import BACKENDS

DAYS = 7


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A week of the demo's history and a pass through the app on this backend (read-only for the tests)."""
    folder = tmp_path_factory.mktemp("seeded")
    with empty_database(request.param, folder) as url:
        seed(url, folder, days=DAYS)
        yield url


def engine_of(url: str) -> Engine:
    return create_db_engine(url)


def test_round_trip_is_identical(seeded: str, tmp_path: Path) -> None:
    source = engine_of(seeded)
    counts = row_counts(source)
    for table in ("incident", "timeline_entry", "alert", "alert_event", "postmortem", "action_item", "user"):
        assert counts[table] > 0, table  # a realistic dataset: every kind of row is there
    for table in ("audit_log", "outgoing_message", "oncall_override", "change_event", "web_session"):
        assert counts[table] > 0, table
    first = service.dumps(service.export_data(source, password_hashes=True))
    doc = json.loads(first)
    assert doc["schema_revision"] == migrate.HEAD and doc["format"] == "commandpost-export"
    assert set(doc["tables"]) == {t.name for t in service.tables()}
    assert not service.DERIVED & set(doc["tables"])

    backend = source.dialect.name
    with empty_database(backend, tmp_path) as url:
        target = engine_of(url)
        imported = service.import_data(target, doc)
        assert imported == {name: len(rows) for name, rows in doc["tables"].items()}
        again = service.dumps(service.export_data(target, password_hashes=True))
        assert again == first
        # the trigger-kept statistics come back as the triggers kept them in the source
        assert derived_rows(target) == derived_rows(source)
        with make_session_factory(target, read_only=True)() as session:  # the hashes came along
            assert users.verify_password(session, handle="yuta", password=demo_server.PASSWORD)
        # ids carry on after the imported ones (PostgreSQL's sequences were moved past them)
        with transaction(make_session_factory(target)) as session:
            new = incidents.declare(
                session, title="After the restore", severity="SEV3", actor="yuta", now=END
            )
        assert new.id == max(row["id"] for row in doc["tables"]["incident"]) + 1
        target.dispose()
    source.dispose()


def test_export_leaves_password_hashes_out_unless_asked(seeded: str, tmp_path: Path) -> None:
    source = engine_of(seeded)
    plain = service.export_data(source, password_hashes=False)
    full = service.export_data(source, password_hashes=True)
    assert {u["password_hash"] for u in plain["tables"]["user"]} == {service.NO_HASH}
    assert all(u["password_hash"].startswith("$argon2") for u in full["tables"]["user"])
    assert plain["tables"]["web_session"] == [] and plain["password_hashes"] is False
    handles = [u["handle"] for u in full["tables"]["user"]]
    assert "yuta" in handles
    with empty_database(source.dialect.name, tmp_path) as url:
        target = engine_of(url)
        service.import_data(target, plain)
        reader = make_session_factory(target, read_only=True)
        with reader() as session, pytest.raises(Unauthorized):  # no password matches an empty hash
            users.verify_password(session, handle="yuta", password=demo_server.PASSWORD)
        target.dispose()
    source.dispose()


def test_export_is_a_consistent_snapshot_while_others_write(seeded: str, tmp_path: Path) -> None:
    """Rows committed by another connection during the export are not in it (one transaction)."""
    source = engine_of(seeded)
    with empty_database(source.dialect.name, tmp_path) as url:
        target = engine_of(url)
        service.import_data(target, service.export_data(source, password_hashes=True))
        before = row_counts(target)
        writes = make_session_factory(target)

        def write_meanwhile(table: str, _done: int, _total: int) -> None:
            with transaction(writes) as session:
                incidents.declare(session, title=f"during {table}", severity="SEV4", actor="yuta", now=END)

        doc = service.export_data(target, password_hashes=True, progress=write_meanwhile)
        assert {name: len(rows) for name, rows in doc["tables"].items()} == {
            name: before[name] for name in doc["tables"]
        }
        assert row_counts(target)["incident"] == before["incident"] + len(service.tables())
        target.dispose()
    source.dispose()


def test_import_and_restore_refuse_a_database_that_holds_data(seeded: str, tmp_path: Path) -> None:
    source = engine_of(seeded)
    doc = service.export_data(source, password_hashes=True)
    before = row_counts(source)
    with pytest.raises(Conflict, match=r"not empty \(\w+ holds \d+ rows\)"):
        service.import_data(source, doc)
    path = tmp_path / "export.json"
    service.write_file(path, service.dumps(doc))
    done = run_cli(["restore", str(path), "--database-url", seeded])
    assert done.returncode == 5, done.stderr
    assert "the database is not empty" in done.stderr and "Traceback" not in done.stderr
    assert row_counts(source) == before
    source.dispose()


def test_backup_and_restore_through_the_cli(seeded: str, tmp_path: Path) -> None:
    """SQLite: the online backup API's copy; PostgreSQL: the export read in one snapshot."""
    source = engine_of(seeded)
    backup = tmp_path / "commandpost.backup"
    done = run_cli(["backup", str(backup), "--database-url", seeded])
    assert done.returncode == 0, done.stderr
    assert os.stat(backup).st_mode & 0o777 == 0o600  # it holds every secret the database holds
    head = backup.read_bytes()[:16]
    assert (head == service.SQLITE_MAGIC) == (source.dialect.name == "sqlite")
    if head == service.SQLITE_MAGIC:
        with sqlite3.connect(backup) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    with empty_database(source.dialect.name, tmp_path / "r") as url:
        done = run_cli(["restore", str(backup), "--database-url", url])
        assert done.returncode == 0, done.stderr
        assert "restored" in done.stderr
        target = engine_of(url)
        assert service.export_data(target, password_hashes=True) == service.export_data(
            source, password_hashes=True
        )
        assert migrate.is_current(target)
        target.dispose()
    source.dispose()


def test_export_and_import_through_the_cli(seeded: str, tmp_path: Path) -> None:
    exported = run_cli(["export", "--format", "json", "--database-url", seeded])
    assert exported.returncode == 0, exported.stderr
    assert "$argon2" not in exported.stdout  # no password hashes unless asked
    path = tmp_path / "export.json"
    path.write_text(exported.stdout)
    backend = engine_of(seeded).dialect.name
    with empty_database(backend, tmp_path / "i") as url:
        done = run_cli(["import", str(path), "--database-url", url])
        assert done.returncode == 0, done.stderr
        again = run_cli(["export", "--database-url", url, "--output", str(tmp_path / "again.json")])
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "again.json").read_text() == exported.stdout


def test_a_sqlite_backup_restores_into_postgresql(tmp_path: Path) -> None:
    """Moving from SQLite to PostgreSQL: back up the file, restore it into a new PostgreSQL database."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    demo_server.prepare(url, demo_server.demo_ops(tmp_path), FrozenClock(END))
    source = engine_of(url)
    service.backup(source, tmp_path / "small.backup")
    with empty_database("postgresql", tmp_path) as pg:
        target = engine_of(pg)
        service.restore(target, tmp_path / "small.backup")
        assert service.export_data(target, password_hashes=True) == service.export_data(
            source, password_hashes=True
        )
        target.dispose()
    source.dispose()


def test_an_older_sqlite_backup_is_upgraded_as_it_is_restored(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    engine = create_db_engine(f"sqlite:///{old}")
    migrate.upgrade(engine, "0017")
    migrate.upgrade(engine, "0016")
    migrate.upgrade(engine, "0007")  # the three heads a deployment before the merge was at
    engine.dispose()
    service.backup(create_db_engine(f"sqlite:///{old}"), tmp_path / "old.backup")
    target = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    service.restore(target, tmp_path / "old.backup")
    assert migrate.current_revisions(target) == migrate.HEADS


# ---------------------------------------------------------------- hostile input


def _valid_doc() -> dict[str, object]:
    return {
        "format": service.FORMAT,
        "version": service.VERSION,
        "schema_revision": migrate.HEAD,
        "password_hashes": False,
        "tables": {t.name: [] for t in service.tables()},
    }


def _with_row(**override: object) -> dict[str, object]:
    doc = _valid_doc()
    row = {
        "id": 1,
        "key": "k",
        "source": "generic",
        "service": "payment-platform",
        "name": "n",
        "created_at": "2026-06-24T03:00:00+00:00",
        "rotated_at": None,
        "active": True,
    }
    columns = {c.name for c in Base.metadata.tables["integration_key"].columns}
    row = {name: row.get(name) for name in columns} | override
    doc["tables"]["integration_key"] = [row]  # type: ignore[index]
    return doc


def _hostile_files(folder: Path) -> dict[str, tuple[bytes, str]]:
    """name → (the file's bytes, what the error says)."""
    full = service.dumps(_with_row()).encode()
    deep = b'{"format": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    sqlite_other = folder / "other.db"
    with sqlite3.connect(sqlite_other) as conn:
        conn.execute("CREATE TABLE t (x)")
    return {
        "empty": (b"", "not a complete JSON document"),
        "truncated": (full[: len(full) // 2], "truncated?"),
        "not json": (b"hello", "not a complete JSON document"),
        "a list": (b"[1, 2]", "not a commandpost export"),
        "wrong format": (service.dumps(_valid_doc() | {"format": "pagerduty"}).encode(), "not a commandpost"),
        "wrong version": (service.dumps(_valid_doc() | {"version": 99}).encode(), "export version 99"),
        "other schema": (service.dumps(_valid_doc() | {"schema_revision": "0016"}).encode(), "schema '0016'"),
        "missing table": (json.dumps(_valid_doc() | {"tables": {}}).encode(), "missing ["),
        "unknown table": (
            json.dumps(_valid_doc() | {"tables": _valid_doc()["tables"] | {"evil": []}}).encode(),  # type: ignore[operator]
            "unknown ['evil']",
        ),
        "NUL byte": (full.replace(b'"k"', b'"k\x00"'), "holds NUL bytes"),
        "NUL escape": (service.dumps(_with_row(name="a\x00b")).encode(), "holds a NUL character"),
        "not a row": (
            service.dumps(_valid_doc() | {"tables": _valid_doc()["tables"] | {"alert": [{}]}}).encode(),  # type: ignore[operator]
            "alert row 0: expected the columns",
        ),
        "not UTF-8": (full.replace(b'"k"', b'"\xff"'), "not UTF-8"),
        "too long": (service.dumps(_with_row(name="x" * 100_000)).encode(), "characters, the column holds"),
        "wrong type": (service.dumps(_with_row(id="1")).encode(), "a str where the column holds int"),
        "int as bool": (service.dumps(_with_row(active=1)).encode(), "a int where the column holds bool"),
        "bool as int": (service.dumps(_with_row(id=True)).encode(), "a bool where the column holds int"),
        "naive time": (
            service.dumps(_with_row(created_at="2026-06-24T03:00:00")).encode(),
            "without its offset",
        ),
        "bad time": (service.dumps(_with_row(created_at="yesterday")).encode(), "Invalid isoformat"),
        "null": (service.dumps(_with_row(key=None)).encode(), "null in a column"),
        "extra column": (service.dumps(_with_row(evil=1)).encode(), "expected the columns"),
        "deep": (deep, "nested too deeply"),
        "binary": (bytes(range(256)) * 10, "holds NUL bytes"),
        "sqlite, not ours": (sqlite_other.read_bytes(), "not a commandpost database"),
        "sqlite, damaged": (
            service.SQLITE_MAGIC + b"\x10\x00" + os.urandom(5000),
            "SQLite",
        ),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_files_are_refused_and_nothing_changes(backend: str, tmp_path: Path) -> None:
    files = _hostile_files(tmp_path)
    # a row whose reference points nowhere passes every check but the database's: all of it rolls back
    broken = _with_row()
    broken["tables"]["alert_event"] = [  # type: ignore[index]
        {c.name: None for c in Base.metadata.tables["alert_event"].columns}
        | {
            "id": 1,
            "integration_id": 999,
            "action": "trigger",
            "dedup_key": "",
            "outcome": "new",
            "summary": "",
            "received_at": "2026-06-24T03:00:00+00:00",
            "raw": {},
        }
    ]
    files["bad reference"] = (service.dumps(broken).encode(), "the database refused the import")
    with empty_database(backend, tmp_path / "db") as url:
        target = engine_of(url)
        for name, (content, message) in files.items():
            path = tmp_path / f"{name}.json"
            path.write_bytes(content)
            for command in ("import", "restore"):
                done = run_cli([command, str(path), "--database-url", url])
                assert done.returncode == 2, (name, command, done.stdout, done.stderr)
                assert message in done.stderr.replace("\n", " "), (name, command, done.stderr)
                assert "Traceback" not in done.stderr and len(done.stderr) < 2000, (name, done.stderr)
                assert not any(row_counts(target).values()), (name, command)  # nothing was written
        target.dispose()


def test_a_file_larger_than_import_reads_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(service.MAX_BYTES + 1)  # sparse: no disk used
    done = run_cli(["import", str(huge), "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
    assert done.returncode == 2 and f"more than the {service.MAX_BYTES} import reads" in done.stderr.replace(
        "\n", " "
    )
    assert not (tmp_path / "x.db").exists() or not any(
        row_counts(engine_of(f"sqlite:///{tmp_path / 'x.db'}")).values()
    )


def test_the_file_the_hostile_ones_are_made_from_imports(tmp_path: Path) -> None:
    """The hostile cases above differ from this one file by the one thing each breaks."""
    target = engine_of(f"sqlite:///{tmp_path / 'ok.db'}")
    assert service.import_data(target, _with_row())["integration_key"] == 1
    with target.connect() as conn:
        assert conn.execute(text("SELECT key FROM integration_key")).scalar_one() == "k"
    target.dispose()


def test_backup_of_an_in_memory_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="in-memory"):
        service.backup(create_db_engine("sqlite://"), tmp_path / "x")


def test_backup_refuses_a_missing_or_foreign_database_and_an_unwritable_place(tmp_path: Path) -> None:
    missing = run_cli(["backup", str(tmp_path / "b"), "--database-url", f"sqlite:///{tmp_path / 'typo.db'}"])
    assert missing.returncode == 2 and "cannot open it as a SQLite database" in missing.stderr
    assert not (tmp_path / "typo.db").exists()  # not created by the attempt
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    foreign = run_cli(["backup", str(tmp_path / "b"), "--database-url", f"sqlite:///{tmp_path / 'other.db'}"])
    assert foreign.returncode == 2 and "not a commandpost database" in foreign.stderr
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    migrate.upgrade(create_db_engine(url))
    nowhere = run_cli(["backup", str(tmp_path / "no" / "such" / "dir" / "b"), "--database-url", url])
    assert nowhere.returncode == 1 and "cannot write it (no directory" in nowhere.stderr
    unwritable = run_cli(["export", "--output", str(tmp_path / "no" / "x.json"), "--database-url", url])
    assert unwritable.returncode == 1 and "cannot write it (No such file or directory)" in unwritable.stderr
    for done in (missing, foreign, nowhere, unwritable):
        assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("**/*.partial"))


def test_progress_bars_draw_at_a_terminal_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.db'}"
    demo_server.prepare(url, demo_server.demo_ops(tmp_path), FrozenClock(END))
    for command in (["export", "--output", str(tmp_path / "e.json")], ["backup", str(tmp_path / "b")]):
        piped = run_cli([*command, "--database-url", url], env={"TTY_COMPATIBLE": None})
        assert piped.returncode == 0 and "\x1b[" not in piped.stderr and piped.stderr.count("\n") <= 2
        terminal = run_cli([*command, "--database-url", url], env={"TTY_COMPATIBLE": "1"})
        # a live display ran on stderr (cursor hidden, then shown), then the one-line summary
        assert terminal.returncode == 0 and terminal.stderr.startswith("\x1b[?25l"), terminal.stderr
        assert "\x1b[?25h" in terminal.stderr and terminal.stdout == ""
    target = f"sqlite:///{tmp_path / 'new.db'}"
    restored = run_cli(
        ["import", str(tmp_path / "e.json"), "--database-url", target], env={"TTY_COMPATIBLE": "1"}
    )
    assert restored.returncode == 0 and restored.stderr.startswith("\x1b[?25l"), restored.stderr


def test_an_export_piped_to_stdout_is_the_document_whole_with_or_without_a_bar(tmp_path: Path) -> None:
    """The bar (console.progress) writes to stderr only: stdout, piped into a file, is the export."""
    url = f"sqlite:///{tmp_path / 'db.db'}"
    demo_server.prepare(url, demo_server.demo_ops(tmp_path), FrozenClock(END))
    assert run_cli(["export", "--output", str(tmp_path / "e.json"), "--database-url", url]).returncode == 0
    whole = (tmp_path / "e.json").read_text()
    no_terminal = run_cli(["export", "--database-url", url], env={"TTY_COMPATIBLE": None})
    assert (no_terminal.returncode, no_terminal.stdout, no_terminal.stderr) == (0, whole, "")
    on_stderr = run_cli(["export", "--database-url", url], env={"TTY_COMPATIBLE": "1"})
    assert on_stderr.returncode == 0 and on_stderr.stdout == whole
    assert on_stderr.stderr.startswith("\x1b[?25l") and "\x1b" not in on_stderr.stdout
