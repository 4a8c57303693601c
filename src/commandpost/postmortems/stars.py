"""The table of stars on Final postmortems (the use cases are :mod:`commandpost.postmortems.praise`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class PostmortemStar(Base):
    """One person's star on one postmortem (unique: starring twice is one star)."""

    __tablename__ = "postmortem_star"
    __table_args__ = (
        UniqueConstraint("postmortem_id", "person"),
        Index("ix_postmortem_star_starred_at", "starred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id"))
    person: Mapped[str] = mapped_column(String(100))
    starred_at: Mapped[datetime]
