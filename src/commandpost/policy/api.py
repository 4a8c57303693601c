"""Applied ops revisions and integrations, read over the API."""

from __future__ import annotations

from fastapi import APIRouter

from commandpost.deps import Admin, Reader, RowId
from commandpost.policy import service
from commandpost.policy.schemas import IntegrationOut, RevisionDetail, RevisionOut

router = APIRouter(prefix="/api/v1", tags=["ops"])


@router.get("/ops/revisions", response_model=list[RevisionOut])
def revisions(ctx: Reader) -> list[RevisionOut]:
    """The last 50 applied revisions, newest first."""
    return [RevisionOut.model_validate(r) for r in service.recent_revisions(ctx.session, limit=50)]


@router.get("/ops/revisions/{revision_id}", response_model=RevisionDetail)
def revision(revision_id: RowId, ctx: Reader) -> RevisionDetail:
    """One revision: when, by whom, from where, what changed and which files it holds."""
    row = service.get_revision(ctx.session, revision_id=revision_id)
    return RevisionDetail.model_validate(
        {**RevisionOut.model_validate(row).model_dump(), "files": sorted(row.files)}
    )


@router.get("/integrations", response_model=list[IntegrationOut])
def integrations(ctx: Admin) -> list[IntegrationOut]:
    """Active integrations with their keys (secrets: admin only) and the URL each source sends to."""
    base = ctx.request.app.state.settings.base_url()
    return [
        IntegrationOut(
            name=r.name,
            source=r.source,
            service=r.service,
            key=r.key,
            intake_url=service.intake_url(base, r),
            active=r.active,
            created_at=r.created_at,
            rotated_at=r.rotated_at,
        )
        for r in service.list_integrations(ctx.session)
    ]
