"""The schema upgrades from empty to head on both databases and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import commandpost.models_registry  # noqa: F401
from commandpost.db import migrate
from commandpost.db.base import Base


def test_schema_is_at_head(engine):
    assert migrate.is_current(engine)
    assert migrate.current_revisions(engine) == migrate.head_revisions(engine)


def test_every_model_table_exists_and_matches(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Only differences that matter: a missing or extra table/column/index means a migration was forgotten.
    assert [d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}] == []


def test_upgrade_is_idempotent(engine):
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
