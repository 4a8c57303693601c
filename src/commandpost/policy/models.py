"""Applied ops revisions and the integration keys ``apply`` generates (keys never live in YAML)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class OpsRevision(Base):
    """One applied ops folder. ``seq`` is unique, so two applies on the same base cannot both win;
    ``content_hash`` is not (going back to an earlier content is a new revision)."""

    __tablename__ = "ops_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True, doc="1, 2, 3 … the previous revision's seq + 1")
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    applied_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(500), default="", doc="the folder it was applied from")
    model: Mapped[dict[str, Any]] = mapped_column(doc="the normalized OpsConfig as JSON")
    files: Mapped[dict[str, Any]] = mapped_column(doc="relative path -> file text, for diffs")
    changes: Mapped[list[Any]] = mapped_column(default=list, doc="what changed against the previous revision")


class IntegrationKey(Base):
    __tablename__ = "integration_key"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    service: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True, doc="false once removed from ops; kept for history")
