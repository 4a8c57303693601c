"""Alembic, driven from code: ``commandpost db upgrade`` and ``serve`` both call :func:`upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Upgrade to every head: domains add their tables on branches from the foundation migration."""
    command.upgrade(alembic_config(engine), revision)


def head_revisions(engine: Engine) -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def current_revision(engine: Engine) -> str:
    """The applied revisions, comma-separated (for messages)."""
    return ", ".join(sorted(current_revisions(engine))) or "empty"


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions(engine)
