"""Alembic, driven from code: ``commandpost db upgrade`` and ``serve`` both come here.

A running server only ever *reads* the schema's revision (``/readyz``), so that read and
:data:`HEADS` need no Alembic: its code (11 MB resident) is imported only to upgrade, and ``serve``
upgrades in a child process (:func:`upgrade_in_child`) so the long-lived server never holds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from commandpost.errors import CommandpostError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0024"
"""The one head of the migrations (0019 merged the domains' branches). A new migration chains from it
(its ``down_revision`` is this value, never an older revision: a second head makes ``alembic upgrade
head`` fail) and becomes the head here; ``tests/service/test_migrations.py`` fails until it does."""
HEADS = frozenset({HEAD})
VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Upgrade to every head, in this process."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def upgrade_in_child(engine: Engine, database_url: str) -> None:
    """Upgrade through ``commandpost db upgrade`` in a child process when the schema is behind.

    The URL travels in the environment, not on a command line anyone can read with ``ps``. An
    in-memory SQLite database exists only in this process, so it is upgraded here.
    """
    if is_current(engine):
        return
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        upgrade(engine)
        return
    done = subprocess.run(
        [sys.executable, "-m", "commandpost", "db", "upgrade"],
        env={**os.environ, "COMMANDPOST_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not is_current(engine):
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CommandpostError(f"the schema upgrade failed (exit {done.returncode}): {reason}")


def head_revisions(engine: Engine) -> frozenset[str]:
    """The heads as Alembic reads them from the migration scripts (tests hold :data:`HEADS` to this)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    """The revisions the database is at: the rows of Alembic's version table (none on an empty one)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return frozenset()
        return frozenset(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def current_revision(engine: Engine) -> str:
    """The applied revisions, comma-separated (for messages)."""
    return ", ".join(sorted(current_revisions(engine))) or "empty"


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == HEADS


def pending_revisions(engine: Engine) -> list[tuple[str, str]]:
    """The migrations ``db upgrade`` would apply, oldest first: (revision, its first docstring line).

    A revision in the database that no script knows (written by a newer commandpost) is refused:
    this version cannot tell what that schema holds.
    """
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config(engine))
    current = current_revisions(engine)
    try:
        applied = (
            {rev.revision for rev in script.iterate_revisions(tuple(current), "base")} if current else set()
        )
    except (CommandError, RevisionError) as exc:
        raise CommandpostError(
            f"the database is at revision {current_revision(engine)}, which this commandpost does not know "
            "(a newer version wrote it): run that version, or restore a backup taken before its upgrade"
        ) from exc
    ordered = reversed(list(script.walk_revisions()))  # walk_revisions goes from the head down
    return [(rev.revision, (rev.doc or "").strip()) for rev in ordered if rev.revision not in applied]
