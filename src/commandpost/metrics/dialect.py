"""The few SQL spellings that differ between SQLite and PostgreSQL, for the metrics queries.

Durations are whole seconds on both: each timestamp is truncated to its second (SQLite
``strftime('%s')``, PostgreSQL ``floor(EXTRACT(EPOCH …))``), so both databases return the same
integers and every percentile matches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Dialect:
    name: str

    @classmethod
    def of(cls, session: Session) -> Dialect:
        return cls(session.get_bind().dialect.name)

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    def epoch(self, column: str) -> str:
        """Epoch seconds of a UTC timestamp column, truncated to the second."""
        if self.sqlite:
            return f"CAST(strftime('%s', {column}) AS INTEGER)"
        return f"CAST(floor(EXTRACT(EPOCH FROM {column})) AS BIGINT)"

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})" if self.sqlite else f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"min({a}, {b})" if self.sqlite else f"LEAST({a}, {b})"

    def json_rows(self, param: str, columns: dict[str, str]) -> str:
        """A subquery over the JSON array bound to ``:param`` (objects with these keys), to alias
        in FROM. ``columns`` maps key → SQL type (``text`` or ``bigint``)."""
        if self.sqlite:
            picks = ", ".join(f"json_extract(value, '$.{k}') AS {k}" for k in columns)
            return f"(SELECT {picks} FROM json_each(:{param}))"
        spec = ", ".join(f"{k} {t}" for k, t in columns.items())
        return f"(SELECT * FROM jsonb_to_recordset(CAST(:{param} AS jsonb)) AS r({spec}))"

    def index_hint(self, index: str) -> str:
        """SQLite's planner may sort instead of walking the covering index; PostgreSQL chooses by cost."""
        return f" INDEXED BY {index}" if self.sqlite else ""
