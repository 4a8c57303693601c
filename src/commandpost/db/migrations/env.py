"""Alembic environment: uses the engine handed over by commandpost.db.migrate, or a URL for autogenerate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import commandpost.models_registry  # noqa: F401  (registers every table on Base.metadata)
from commandpost.db.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///var/commandpost.db")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
