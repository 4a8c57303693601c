"""Every schema commandpost has shipped upgrades to the head with its data intact, on both databases.

For each revision (and the three heads a deployment was at before 0019 merged them): a new database
is migrated to it, filled with a realistic dataset (tests/backup_support.py, exported once) cut to
the tables and columns that revision has, then upgraded to the head; every value that went in is
there, and the trigger-kept statistics equal the source's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, inspect

from commandpost.backup import service
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine
from tests.backup_support import derived_rows, empty_database, seed
from tests.cli_support import run_cli
from tests.conftest import BACKENDS, REPO


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(create_db_engine("sqlite://")))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


DATA_MIGRATIONS = {("alert", "notify_after"): "0011"}
"""The values a migration changes on purpose: 0011 clears the notify_after of alerts already decided."""


def _applied(target: tuple[str, ...]) -> set[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(create_db_engine("sqlite://")))
    return {rev.revision for rev in script.iterate_revisions(target, "base")}


OLD_HEADS = ("0007", "0016", "0017")
"""Where every deployment stood before 0019 (0018 came with it)."""
TARGETS = [(rev,) for rev in _revisions()] + [OLD_HEADS]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("source")
    url = f"sqlite:///{folder / 'source.db'}"
    seed(url, folder, days=3)
    engine = create_db_engine(url)
    yield engine, service.export_data(engine, password_hashes=True)
    engine.dispose()


def _fill(engine: Engine, doc: dict[str, Any]) -> dict[str, set[str]]:
    """The export's rows into the tables and columns the database has; returns what was written."""
    with engine.connect() as conn:
        found = inspect(conn)
        present = {name: {c["name"] for c in found.get_columns(name)} for name in found.get_table_names()}
    checked = service.validated_rows(doc)
    written = {}
    with engine.begin() as conn:
        for table in service.tables():
            columns = present.get(table.name)
            if columns is None or not checked[table.name]:
                continue
            then = Table(
                table.name, MetaData(), *(Column(c.name, c.type) for c in table.columns if c.name in columns)
            )
            conn.execute(
                then.insert(), [{k: v for k, v in row.items() if k in columns} for row in checked[table.name]]
            )
            written[table.name] = set(then.columns.keys())
    return written


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("target", TARGETS, ids=["+".join(t) for t in TARGETS])
def test_a_database_at_any_revision_upgrades_with_its_data(
    backend: str, target: tuple[str, ...], source: tuple[Engine, dict[str, Any]], tmp_path: Path
) -> None:
    source_engine, doc = source
    with empty_database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        for revision in target:
            migrate.upgrade(engine, revision)
        assert migrate.current_revisions(engine) == set(target)
        written = _fill(engine, doc)
        assert written, "nothing to upgrade"
        assert not migrate.is_current(engine) or target == (migrate.HEAD,)

        migrate.upgrade(engine)
        assert migrate.current_revisions(engine) == migrate.HEADS
        after = service.export_data(engine, password_hashes=True)["tables"]
        changed = set()
        for name, columns in written.items():
            assert len(after[name]) == len(doc["tables"][name]), name
            for was, now in zip(doc["tables"][name], after[name], strict=True):
                changed |= {(name, k, was[k], now[k]) for k in columns if was[k] != now[k]}
        expected = {c for c in changed if (c[0], c[1]) in DATA_MIGRATIONS and c[3] is None}
        assert changed == expected
        if "alert" in written and "0011" not in _applied(target):
            assert expected, "the dataset should hold alerts 0011 finds already decided"
        if "incident" in written:  # kept by triggers from 0010 on, backfilled by 0010 before it
            assert derived_rows(engine) == derived_rows(source_engine)
        engine.dispose()


def test_alembic_upgrade_head_takes_the_one_head(tmp_path: Path) -> None:
    """'alembic upgrade head' (singular) failed while there were three heads."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'a.db'}")
    command.upgrade(migrate.alembic_config(engine), "head")
    assert migrate.current_revisions(engine) == migrate.HEADS == {migrate.HEAD}
    assert migrate.head_revisions(engine) == {migrate.HEAD}


def test_plain_alembic_from_a_checkout_upgrades_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    alembic = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(alembic), "upgrade", "head"],
        cwd=REPO,
        env=env | {"COMMANDPOST_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert migrate.current_revisions(create_db_engine(url)) == migrate.HEADS


def test_db_status_says_where_the_schema_is_and_what_upgrade_would_apply(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    empty = run_cli(["db", "status", "--json", "--database-url", url])
    assert empty.returncode == 0, empty.stderr
    assert '"current": []' in empty.stdout and f'"head": "{migrate.HEAD}"' in empty.stdout
    engine = create_db_engine(url)
    for revision in OLD_HEADS:
        migrate.upgrade(engine, revision)
    pending = [rev for rev, _doc in migrate.pending_revisions(engine)]
    assert pending[:2] == ["0018", "0019"] and pending[-1] == migrate.HEAD  # then any newer, in order
    behind = run_cli(["db", "status", "--database-url", url], env={"COLUMNS": "200"})
    assert behind.returncode == 0, behind.stderr
    assert behind.stdout.splitlines()[:3] == [
        "current: 0007, 0016, 0017",
        f"head:    {migrate.HEAD}",
        f"pending: {len(pending)} (commandpost db upgrade applies them)",
    ]
    assert "  0018  incidents: maintenance_window" in behind.stdout
    assert "  0019  merge the domain branches into one head" in behind.stdout
    assert run_cli(["db", "upgrade", "--database-url", url]).returncode == 0
    current = run_cli(["db", "status", "--json", "--database-url", url])
    assert '"pending": []' in current.stdout and '"up_to_date": true' in current.stdout


def test_db_status_refuses_a_revision_it_does_not_know(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    done = run_cli(["db", "status", "--database-url", url])
    assert done.returncode == 1 and "at revision 9999, which this commandpost does not know" in done.stderr
