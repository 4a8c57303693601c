"""On-call runtime data: overrides, rotation anchors and iCal feed tokens (never written by ``apply``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class Override(Base):
    """``person`` covers ``layer`` of ``schedule`` over [starts_at, ends_at); a higher id wins an overlap."""

    __tablename__ = "oncall_override"
    __table_args__ = (Index("ix_oncall_override_schedule_layer_ends_at", "schedule", "layer", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    layer: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class RotationAnchor(Base):
    """One epoch of a layer's rotation (see ``rules.Epoch``): from ``effective_from`` on, ``rotation``
    decides and its shift containing that instant belongs to ``rotation.members[member_index]``.

    Written by ``service.sync_rotations`` when an applied revision changes a rotation, so a
    changed member list continues from the person on call instead of reshuffling.
    """

    __tablename__ = "rotation_anchor"
    __table_args__ = (UniqueConstraint("schedule", "layer", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    layer: Mapped[str] = mapped_column(String(100))
    effective_from: Mapped[datetime]
    rotation: Mapped[dict[str, Any]] = mapped_column(doc="the layer's Rotation as JSON")
    member_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300), default="")


class IcalFeed(Base):
    """A read-only calendar of one schedule's or one person's shifts, opened by a secret in its URL.

    Only the SHA-256 of the secret is stored; rotating replaces it and the old URL stops working.
    The secret is not an API token and authenticates nothing else.
    """

    __tablename__ = "ical_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), doc="schedule | person")
    target: Mapped[str] = mapped_column(String(100), doc="the schedule name or person handle")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), doc="first characters, to tell feeds apart")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class ShiftSwap(Base):
    """A request to hand over (``cover``) or trade (``swap``) a range of a layer, or a ``take`` of the
    rest of the current shift, and what became of it.

    ``requester`` asks and ``target`` is asked: in a cover the target takes [starts_at, ends_at) of
    the requester's time; in a swap also the requester takes [counter_starts_at, counter_ends_at) of
    the target's; in a take the requester relieves the target at once. An accepted request (a take
    is accepted as it is made) becomes ``Override`` rows, whose ids are kept here, so it survives any
    later edit of the rotation like every override. A request still ``requested`` at ``expires_at``
    reads as ``expired``.
    """

    __tablename__ = "oncall_swap"
    __table_args__ = (Index("ix_oncall_swap_state_expires_at", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    layer: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10), doc="swap | cover | take")
    requester: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(100), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    counter_starts_at: Mapped[datetime | None]
    counter_ends_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(
        String(10), doc="requested | accepted | declined | withdrawn | expired"
    )
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    override_id: Mapped[int | None] = mapped_column(Integer, doc="the override giving the target the range")
    counter_override_id: Mapped[int | None] = mapped_column(
        Integer, doc="a swap's second override, giving the requester the counter range"
    )
