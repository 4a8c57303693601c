"""The model of ``severities.yaml``: what SEV1 … SEV4 mean in this org."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from commandpost.policy.durations import Duration
from commandpost.policy.ops_base import SEVERITIES, Strict


class Severity(Strict):
    name: str = Field(min_length=1, description="short label, e.g. Critical")
    definition: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    response_target: Duration
    response_hours: Literal["always", "business_hours", "next_business_day"] = Field(
        default="always", description="when the response target clock runs (guide §2: SEV3/SEV4)"
    )
    paging: bool
    involve: list[str] = Field(default_factory=list, description="who is involved")
    comms_cadence: Duration | None = None
    comms_scope: list[Literal["internal", "external", "management"]] = Field(default_factory=list)
    postmortem_required: bool = False


class SeveritiesFile(Strict):
    severities: dict[str, Severity]

    @model_validator(mode="after")
    def _exactly_four(self) -> SeveritiesFile:
        missing = [s for s in SEVERITIES if s not in self.severities]
        extra = [s for s in self.severities if s not in SEVERITIES]
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unknown {', '.join(extra)}")
        if problems:
            raise ValueError(f"severities must be exactly SEV1, SEV2, SEV3 and SEV4: {'; '.join(problems)}")
        return self
