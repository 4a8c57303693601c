"""Applied ops revisions and integrations, read over the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from commandpost.deps import Reader
from commandpost.policy.models import OpsRevision

router = APIRouter(prefix="/api/v1", tags=["ops"])


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    content_hash: str
    applied_at: datetime
    applied_by: str
    source: str
    changes: list[Any]


@router.get("/ops/revisions", response_model=list[RevisionOut])
def revisions(ctx: Reader) -> list[RevisionOut]:
    rows = ctx.session.scalars(select(OpsRevision).order_by(OpsRevision.id.desc()).limit(50))
    return [RevisionOut.model_validate(r) for r in rows]
