"""The schema upgrades from empty to head on both databases and matches the models."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

import commandpost.models_registry  # noqa: F401
from commandpost.db import migrate
from commandpost.db.base import Base
from commandpost.db.engine import create_db_engine
from commandpost.errors import CommandpostError
from tests.schema_support import model_diff


def test_schema_is_at_head(engine):
    assert migrate.is_current(engine)
    assert migrate.current_revisions(engine) == migrate.head_revisions(engine) == migrate.HEADS


def test_every_model_table_exists_and_matches(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    # Only differences that matter: a missing or extra table/column/index means a migration was forgotten.
    diff = model_diff(engine)
    assert [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}] == []


def test_upgrade_is_idempotent(engine):
    migrate.upgrade(engine)
    assert migrate.is_current(engine)


def test_serve_upgrades_an_empty_database_in_a_child_process(tmp_path):
    """``serve`` never imports Alembic itself: the child upgrades, the parent only reads the version."""
    url = f"sqlite:///{tmp_path}/fresh.db"
    fresh = create_db_engine(url)
    assert migrate.current_revisions(fresh) == frozenset() and not migrate.is_current(fresh)
    probe = (
        "import sys; from sqlalchemy import create_engine; from commandpost.db import migrate; "
        f"e = create_engine({url!r}); migrate.upgrade_in_child(e, {url!r}); "
        "assert migrate.is_current(e); assert not any(m.startswith('alembic') for m in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert migrate.current_revisions(fresh) == migrate.HEADS


def test_a_failed_upgrade_in_the_child_says_why(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with pytest.raises(CommandpostError, match="schema upgrade failed"):
        migrate.upgrade_in_child(create_db_engine(f"sqlite:///{tmp_path}/x.db"), url)
