"""The database the migrations made, compared with the models (for the tests that hold them together)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import commandpost.models_registry  # noqa: F401  (every table on Base.metadata)
from commandpost.db.base import Base


def _modelled(name: str | None, type_: str, _parent: Any) -> bool:
    """The full-text index of similar incidents (0021) is no model: an FTS5 table with its shadow
    tables on SQLite, a tsvector table with a GIN index on PostgreSQL. Left out, indexes and all."""
    return not (type_ == "table" and (name or "").startswith("incident_search"))


def model_diff(engine: Engine) -> list[Any]:
    """Alembic's differences between the database and the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _modelled})
        return list(compare_metadata(context, Base.metadata))
