"""Pydantic shapes of the on-call API (in and out)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from commandpost.clock import Instant
from commandpost.oncall.rules import OnCallNow, Shift
from commandpost.policy.schema import Layer, Schedule


class ShiftOut(BaseModel):
    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime
    by_override: bool
    override_id: int | None

    @classmethod
    def of(cls, shift: Shift) -> ShiftOut:
        return cls(
            schedule=shift.schedule,
            layer=shift.layer,
            person=shift.person,
            start=shift.start,
            end=shift.end,
            by_override=shift.by_override,
            override_id=shift.override_id,
        )


class OnCallLayer(BaseModel):
    schedule: str
    layer: str
    person: str | None = Field(description="null when nobody covers the layer (restricted or not started)")
    start: datetime | None
    end: datetime | None = Field(description="until when")
    by_override: bool
    override_id: int | None

    @classmethod
    def of(cls, item: OnCallNow) -> OnCallLayer:
        shift = item.shift
        return cls(
            schedule=item.schedule,
            layer=item.layer,
            person=shift.person if shift else None,
            start=shift.start if shift else None,
            end=shift.end if shift else None,
            by_override=bool(shift and shift.by_override),
            override_id=shift.override_id if shift else None,
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


class HandoffOut(BaseModel):
    weekday: str | None
    time: LocalTime
    timezone: str


class RestrictionOut(BaseModel):
    days: list[str]
    start: dt.time
    end: dt.time


class LayerOut(BaseModel):
    name: str
    members: list[str]
    length: str
    start: dt.date
    handoff: HandoffOut
    restrictions: list[RestrictionOut]

    @classmethod
    def of(cls, layer: Layer) -> LayerOut:
        rotation = layer.rotation
        return cls(
            name=layer.name,
            members=list(rotation.members),
            length=rotation.length,
            start=rotation.start,
            handoff=HandoffOut.model_validate(rotation.handoff.model_dump()),
            restrictions=[RestrictionOut.model_validate(r.model_dump()) for r in layer.restrictions],
        )


class ScheduleOut(BaseModel):
    name: str
    description: str
    timezone: str
    layers: list[LayerOut]

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        return cls(
            name=schedule.name,
            description=schedule.description,
            timezone=schedule.timezone,
            layers=[LayerOut.of(layer) for layer in schedule.layers],
        )


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


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


class FeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
