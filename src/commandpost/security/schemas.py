"""Request and response bodies of the token endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from commandpost.responses import Out


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(min_length=1, max_length=100)
    scope: Literal["read", "responder", "admin"]
    name: str = Field(default="", max_length=200)


class TokenOut(Out):
    id: int
    person: str
    scope: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is stored")


class WhoAmI(BaseModel):
    person: str
    scope: str
    token_id: int | None
