"""Pydantic shapes of the on-call API (in and out)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from commandpost.clock import Instant
from commandpost.oncall.models import ShiftSwap
from commandpost.oncall.rules import OnCallNow
from commandpost.oncall.swap_rules import effective_state
from commandpost.policy.opsfiles import Layer, Schedule
from commandpost.responses import Out, computed


class ShiftOut(Out):
    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime
    by_override: bool
    override_id: int | None
    via: list[str] = Field(
        description="a stacked layer's shift: the layers its person came from; empty otherwise"
    )


class OnCallLayer(Out):
    schedule: str
    layer: str
    person: str | None = Field(description="null when nobody covers the layer (restricted or not started)")
    start: datetime | None
    end: datetime | None = Field(description="until when")
    by_override: bool
    override_id: int | None

    @classmethod
    def of(cls, item: OnCallNow) -> OnCallLayer:
        """Computed: the shift's fields, each empty when nobody covers the layer (``shift`` is None)."""
        shift = item.shift
        return cls.model_validate(
            computed(
                item,
                person=shift.person if shift else None,
                start=shift.start if shift else None,
                end=shift.end if shift else None,
                by_override=bool(shift and shift.by_override),
                override_id=shift.override_id if shift else None,
            )
        )


class OnCallOut(BaseModel):
    at: datetime
    oncall: list[OnCallLayer]


LocalTime = Annotated[
    dt.time,
    WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}:\d{2}(\.\d+)?$", "description": "HH:MM:SS"}),
]
"""A wall-clock time in the schedule's timezone. JSON Schema's ``format: time`` demands an offset
("10:00:00Z"), which a local handoff time has not; the pattern says what is served."""


class HandoffOut(Out):
    weekday: str | None
    time: LocalTime
    timezone: str


class RestrictionOut(Out):
    days: list[str]
    start: dt.time
    end: dt.time


class LayerOut(Out):
    """A rotation layer (members, length, start, handoff, restrictions) or a stacked one (``stack``)."""

    name: str
    members: list[str] | None = Field(description="null for a stacked layer")
    length: str | None = Field(description="null for a stacked layer")
    start: dt.date | None = Field(description="null for a stacked layer")
    handoff: HandoffOut | None = Field(description="null for a stacked layer")
    restrictions: list[RestrictionOut]
    stack: list[str] | None = Field(
        description="a stacked layer's layers, lowest first (the last with someone on call wins); "
        "null for a rotation layer"
    )

    @classmethod
    def of(cls, layer: Layer) -> LayerOut:
        """The layer's rotation, flattened into it: the layer gives only its name, restrictions and
        stack. A stacked layer has no rotation: its rotation fields are null."""
        rotation = layer.rotation
        return cls.model_validate(
            computed(
                layer,
                members=rotation.members if rotation else None,
                length=rotation.length if rotation else None,
                start=rotation.start if rotation else None,
                handoff=rotation.handoff if rotation else None,
            )
        )


class ScheduleOut(Out):
    name: str
    description: str
    timezone: str
    layers: list[LayerOut]

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        """Computed: the layers, each flattened (:meth:`LayerOut.of`)."""
        layers = [LayerOut.of(layer) for layer in schedule.layers]
        return cls.model_validate(computed(schedule, layers=layers))


class ShiftsOut(BaseModel):
    schedule: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    shifts: list[ShiftOut]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(min_length=1, max_length=100)
    layer: str = Field(min_length=1, max_length=100)
    person: str = Field(min_length=1, max_length=100, description="a handle from people.yaml")
    start: Instant
    end: Instant
    note: str = Field(default="", max_length=2000)


class OverrideOut(Out):
    id: int
    schedule: str
    layer: str
    person: str
    start: datetime = Field(validation_alias="starts_at")
    end: datetime = Field(validation_alias="ends_at")
    note: str
    created_by: str
    created_at: datetime


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str | None = Field(default=None, max_length=100)
    person: str | None = Field(default=None, max_length=100)


class FeedOut(Out):
    id: int
    kind: str
    target: str
    prefix: str
    created_by: str
    created_at: datetime
    rotated_at: datetime | None


class FeedCreated(FeedOut):
    url: str = Field(description="the calendar URL, secret included; shown only now")
    token: str


class SwapIn(BaseModel):
    """Ask ``target`` to cover [start, end) of your shift; with a counter range, a swap: you take
    [counter_start, counter_end) of theirs."""

    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(min_length=1, max_length=100)
    layer: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=100, description="who is asked: a handle from people.yaml")
    start: Instant
    end: Instant
    counter_start: Instant | None = Field(default=None, description="a swap: the target's range you take")
    counter_end: Instant | None = None
    note: str = Field(default="", max_length=2000)


class TakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(min_length=1, max_length=100)
    layer: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=2000)


class SwapOut(Out):
    id: int
    schedule: str
    layer: str
    kind: str = Field(description="cover | swap | take")
    requester: str = Field(description="who asked (in a take: who took over)")
    target: str = Field(description="who was asked (in a take: who was relieved)")
    start: datetime = Field(validation_alias="starts_at")
    end: datetime = Field(validation_alias="ends_at")
    counter_start: datetime | None = Field(validation_alias="counter_starts_at")
    counter_end: datetime | None = Field(validation_alias="counter_ends_at")
    note: str
    state: str = Field(description="requested | accepted | declined | withdrawn | expired")
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    override_ids: list[int] = Field(description="the overrides an accepted request became")

    @classmethod
    def of(cls, row: ShiftSwap, now: datetime) -> SwapOut:
        """Computed: the state as read at ``now`` (an unanswered request past expiry is expired) and
        the override ids as one list."""
        ids = [i for i in (row.override_id, row.counter_override_id) if i is not None]
        state = effective_state(row.state, row.expires_at, now)
        return cls.model_validate(computed(row, state=state, override_ids=ids))
