"""Drill tables (Wheel of Misfortune, guide §5).

- ``drill.incident_id`` is unique: one drill row per drill incident (labelled ``drill=true``);
  ``source_id`` is the past incident it replays.
- ``drill_prompt.due_at`` is set while a prompt waits and cleared when it is delivered, and indexed:
  the engine reads only the prompts due by now, not every prompt of every drill.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class Drill(Base):
    __tablename__ = "drill"
    __table_args__ = (Index("ix_drill_source_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    game_master: Mapped[str] = mapped_column(String(100), doc="who started the drill")
    trainee: Mapped[str | None] = mapped_column(String(100))
    speed: Mapped[int] = mapped_column(Integer, doc="original gaps are divided by it")
    started_at: Mapped[datetime]


class DrillPrompt(Base):
    __tablename__ = "drill_prompt"
    __table_args__ = (
        Index("ix_drill_prompt_due_at", "due_at"),
        Index("ix_drill_prompt_drill_id", "drill_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id"))
    kind: Mapped[str] = mapped_column(String(20), doc="alert | moment")
    offset_seconds: Mapped[int] = mapped_column(Integer, doc="seconds after the original was declared")
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime | None] = mapped_column(doc="NULL once delivered")
    delivered_at: Mapped[datetime | None]
