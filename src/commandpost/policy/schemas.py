"""What the ops API returns: revisions (with what changed) and integrations with their intake URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from commandpost.responses import Out


class RevisionOut(Out):
    id: int
    seq: int
    content_hash: str
    applied_at: datetime
    applied_by: str
    source: str
    changes: list[str]


class RevisionDetail(RevisionOut):
    files: list[str]


class AppliedOut(BaseModel):
    """``POST /ops/revisions``: the revision now current, or with ``dry_run`` what would change."""

    dry_run: bool = False
    revision: RevisionOut | None = None
    created: bool = False
    changes: list[str] = []
    plan: dict[str, Any] | None = None
    ignored: list[str] = []


class IntegrationOut(BaseModel):
    name: str
    source: str
    service: str
    key: str
    intake_url: str
    active: bool
    created_at: datetime
    rotated_at: datetime | None
