"""Request bodies of the metrics API (responses are the services' ``to_dict`` shapes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from commandpost.clock import Instant
from commandpost.metrics.slo import MAX_BATCH, Count

MAX_COUNT = 10**15


class CountIn(BaseModel):
    """One SLI count: ``good`` of ``total`` events at ``at``; ``id`` makes a retry harmless."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="your id for this count (idempotency)")
    good: int = Field(ge=0, le=MAX_COUNT)
    total: int = Field(ge=0, le=MAX_COUNT)
    at: Instant

    def count(self) -> Count:
        return Count(self.id, self.good, self.total, self.at)


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[CountIn] = Field(min_length=1, max_length=MAX_BATCH)
