"""Applied ops revisions and integrations, read over the API."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from commandpost.deps import Admin, Reader, RowId
from commandpost.policy import service, tarball
from commandpost.policy.schemas import AppliedOut, IntegrationOut, RevisionDetail, RevisionOut

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


async def _archive(request: Request) -> bytes:
    """The request body: a tar.gz of the ops folder (the app's body limit applies before this)."""
    return await request.body()


_TARBALL: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the ops folder as a tar.gz: tar czf - -C ops .",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/ops/revisions",
    response_model=AppliedOut,
    status_code=201,
    openapi_extra=_TARBALL,
    responses={
        200: {"description": "nothing changed (same content as the latest revision), or dry_run"},
        400: {"description": "not a tar.gz, or a member with an absolute path, '..', a link or a bad name"},
        413: {"description": "over the body limit, or unpacks past 8 MiB / 2,000 entries / 1 MiB a file"},
        422: {"description": "the folder does not validate: every path:line: message in details"},
    },
)
def apply_revision(
    ctx: Admin,
    response: Response,
    archive: Annotated[bytes, Depends(_archive)],
    dry_run: Annotated[bool, Query(description="say what would change against the stored revision")] = False,
) -> AppliedOut:
    """Apply an ops folder sent as a tar.gz — how CI applies without database access (admin).

    The same validation as ``commandpost apply``; nothing is stored unless the whole folder is valid.
    Files other than .yaml, .yml and .md are left out and listed in ``ignored``.
    """
    unpacked = tarball.unpack(archive)
    source = f"archive uploaded by @{ctx.principal.person}"
    with tempfile.TemporaryDirectory(prefix="commandpost-ops-") as tmp:
        unpacked.write_to(Path(tmp))
        if dry_run:
            planned = service.plan_folder(ctx.session, path=tmp, source="the archive")
            response.status_code = 200
            return AppliedOut(dry_run=True, plan=planned.to_dict(), ignored=unpacked.ignored)
        result = service.apply_folder(ctx.session, path=tmp, now=ctx.now, actor=source, source=source)
    ctx.audit_target(f"ops revision {result.revision.id}", created=result.created)
    if not result.created:
        response.status_code = 200
    return AppliedOut(
        revision=RevisionOut.model_validate(result.revision),
        created=result.created,
        changes=result.changes,
        ignored=unpacked.ignored,
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
