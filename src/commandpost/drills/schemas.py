"""Request and response bodies of ``/api/v1/drills``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commandpost.drills import rules
from commandpost.drills.models import Drill
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=20, description="the past incident to replay: INC-n")
    trainee: str | None = Field(
        default=None, max_length=100, description="a person of people.yaml (default: the game master)"
    )
    speed: int = Field(
        default=1, strict=True, ge=1, le=rules.MAX_SPEED, description="the original's gaps are divided by it"
    )


class DrillOut(BaseModel):
    number: str = Field(description="the drill incident: INC-n")
    of: str = Field(description="the incident it replays")
    title: str
    status: str
    game_master: str
    trainee: str | None
    speed: int
    started_at: datetime
    prompts: int = Field(description="prompts in all")
    delivered: int = Field(description="prompts written on the drill's timeline so far")

    @classmethod
    def of_view(
        cls, drill: Drill, incident: Incident, original: Incident, prompts: int, delivered: int
    ) -> DrillOut:
        return cls(
            number=incident_rules.format_number(incident.number),
            of=incident_rules.format_number(original.number),
            title=incident.title,
            status=incident.status,
            game_master=drill.game_master,
            trainee=drill.trainee,
            speed=drill.speed,
            started_at=drill.started_at,
            prompts=prompts,
            delivered=delivered,
        )


class ScoreLineOut(BaseModel):
    measure: str
    drill: int | bool | None = Field(description="seconds from declaration, or yes/no")
    original: int | bool | None
    target: int | bool | None = Field(
        description="the original's time at the drill's speed (original / speed)"
    )
    verdict: str = Field(description="faster, as fast, slower, not reached … ; yes/no for the others")
    note: str | None = Field(
        default=None,
        description="why a time is not what the measure names, e.g. 'original: no first move named: …'",
    )


class ScorecardOut(BaseModel):
    drill: DrillOut
    complete: bool = Field(description="the drill is resolved or closed: the numbers are final")
    lines: list[ScoreLineOut]
    facts: dict[str, dict[str, Any]] = Field(description="the measured facts of 'drill' and 'original'")
