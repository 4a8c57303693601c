"""The engine lease: on SQLite exactly one process runs the engine; on PostgreSQL it names the leader."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class EngineLease(Base):
    __tablename__ = "engine_lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]
