"""The model of ``schedules/*.yaml``: on-call schedules, their layers (rotations, restriction
windows, stacks) and handoffs."""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from commandpost.policy.durations import parse_duration
from commandpost.policy.ops_base import WEEKDAYS, Slug, Strict, Timezone, parse_weekday


class Handoff(Strict):
    weekday: Annotated[str, BeforeValidator(parse_weekday)] | None = None
    time: dt.time = dt.time(10, 0)
    timezone: Timezone = "UTC"


def _rotation_length(value: Any) -> Any:
    if value in ("weekly", "daily"):
        return value
    try:
        parse_duration(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a rotation length (weekly, daily, or e.g. 3d, 12h)") from None
    return str(value)


class Rotation(Strict):
    members: list[str] = Field(min_length=1)
    length: Annotated[str, BeforeValidator(_rotation_length)] = "weekly"
    start: date
    handoff: Handoff = Field(default_factory=Handoff)

    def turn(self) -> timedelta:
        return {"weekly": timedelta(weeks=1), "daily": timedelta(days=1)}.get(self.length) or parse_duration(
            self.length
        )


class Restriction(Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    start: dt.time
    end: dt.time

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        return [parse_weekday(v) for v in value]


class Layer(Strict):
    """A rotation (with optional restriction windows), or a ``stack`` of the schedule's other layers.

    A stack is PagerDuty's and Grafana OnCall's "final schedule": at every instant it has the person
    of the last listed layer that has someone then, else the one before, and so on (docs/oncall.md,
    "Stacked layers"). That the names are rotation layers of the same schedule ``commandpost check``
    verifies (one layer cannot see its siblings)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["rotation"]}, {"required": ["stack"]}]}
    )

    name: Slug
    rotation: Rotation | None = None
    stack: list[Slug] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="layer names, lowest first: the last one with someone on call wins",
    )
    restrictions: list[Restriction] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rotation_or_stack(self) -> Layer:
        if (self.rotation is None) == (self.stack is None):
            raise ValueError(
                f"layer '{self.name}' needs exactly one of 'rotation' (who takes turns) or "
                "'stack' (a list of this schedule's layers, the last with someone on call wins)"
            )
        if self.stack is not None:
            if self.restrictions:
                raise ValueError(
                    f"layer '{self.name}': a stack has no restrictions of its own; "
                    "restrict the layers it stacks"
                )
            twice = sorted({name for name in self.stack if self.stack.count(name) > 1})
            if twice:
                raise ValueError(f"layer '{self.name}': stack names {', '.join(twice)} more than once")
            if self.name in self.stack:
                raise ValueError(f"layer '{self.name}': a stack cannot contain itself")
        return self


class Schedule(Strict):
    name: str = ""
    description: str = ""
    timezone: Timezone = "UTC"
    layers: list[Layer] = Field(min_length=1)

    def layer(self, name: str) -> Layer | None:
        return next((x for x in self.layers if x.name == name), None)

    def stacked_layers(self, layer: Layer) -> list[Layer]:
        """The rotation layers a stack names, lowest first (names that are no rotation layer of this
        schedule are skipped: ``check`` refuses them, so only an unchecked model has them)."""
        found = [self.layer(name) for name in layer.stack or ()]
        return [x for x in found if x is not None and x.rotation is not None]

    def in_stacks(self) -> set[str]:
        """The names of the layers some stack of this schedule stacks."""
        return {name for layer in self.layers for name in layer.stack or ()}

    def turn(self, layer: Layer) -> timedelta:
        """A rotation's shift length; a stack's is its longest layer's (one day with none)."""
        if layer.rotation is not None:
            return layer.rotation.turn()
        return max(
            (x.rotation.turn() for x in self.stacked_layers(layer) if x.rotation), default=timedelta(days=1)
        )
