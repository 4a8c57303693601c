"""Alembic environment: the engine handed over by commandpost.db.migrate, else the database commandpost
would use (COMMANDPOST_DATABASE_URL; alembic.ini's sqlalchemy.url wins, for autogenerate)."""

from __future__ import annotations

from alembic import context

import commandpost.models_registry  # noqa: F401  (registers every table on Base.metadata)
from commandpost.db.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic upgrade head` (alembic.ini): the database commandpost would use
        from commandpost.db.engine import create_db_engine
        from commandpost.settings import Settings

        engine = create_db_engine(config.get_main_option("sqlalchemy.url") or Settings().database_url)
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
