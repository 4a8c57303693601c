"""Settings (admin): API tokens, a summary of the web users (managed in ``pages/users.py``), applied
ops revisions with their diff, integrations and their intake URLs — the security, users and policy
services, as ``/api/v1/tokens`` … use them."""

from __future__ import annotations

import difflib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.deps import Ctx, RowId
from commandpost.policy import service as policy_service
from commandpost.security import service as security_service
from commandpost.security import users
from commandpost.web.auth import PageAdmin, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
REVISIONS = 50


def _render(request: Request, ctx: Ctx, *, new_token: str = "") -> Response:
    base = request.app.state.settings.base_url()
    integrations = [
        (row, policy_service.intake_url(base, row)) for row in policy_service.list_integrations(ctx.session)
    ]
    return page(
        request,
        "settings.html",
        nav="settings",
        tokens=security_service.list_tokens(ctx.session),
        users=users.list_users(ctx.session),
        integrations=integrations,
        revisions=policy_service.recent_revisions(ctx.session, limit=REVISIONS),
        people=policy_service.current_config(ctx.session).people,
        new_token=new_token,
    )


@router.get("/settings")
def settings_page(request: Request, ctx: PageAdmin) -> Response:
    return _render(request, ctx)


@router.post("/settings/tokens")
def create_token(
    request: Request, ctx: PageAdmin, person: Text = "", scope: Text = "", name: Text = ""
) -> Response:
    row, plaintext = security_service.create_token(
        ctx.session,
        person=person,
        scope=scope,
        name=name,
        now=ctx.now,
        people=policy_service.people_handles(ctx.session),
    )
    ctx.audit_target(f"token:{row.id}", person=row.person, scope=row.scope)
    return _render(request, ctx, new_token=plaintext)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, ctx: PageAdmin) -> Response:
    row = security_service.revoke_token(ctx.session, token_id=token_id, now=ctx.now)
    ctx.audit_target(f"token:{row.id}")
    return RedirectResponse("/settings", status_code=303)


def file_diff(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str]]:
    """A unified diff of two revisions' files as (css class, line) pairs."""
    out: list[tuple[str, str]] = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        lines = difflib.unified_diff(
            (before or "").splitlines(),
            (after or "").splitlines(),
            fromfile=f"a/{path}" if before is not None else "/dev/null",
            tofile=f"b/{path}" if after is not None else "/dev/null",
            lineterm="",
        )
        for line in lines:
            kind = (
                "hunk"
                if line.startswith("@@")
                else "add"
                if line.startswith("+")
                else "del"
                if line.startswith("-")
                else ""
            )
            out.append((kind, line))
    return out


@router.get("/settings/revisions/{revision_id}")
def revision_page(request: Request, revision_id: RowId, ctx: PageAdmin) -> Response:
    revision = policy_service.get_revision(ctx.session, revision_id=revision_id)
    previous = policy_service.previous_revision(ctx.session, revision=revision)
    old = {k: v for k, v in (previous.files if previous else {}).items() if isinstance(v, str)}
    new = {k: v for k, v in (revision.files or {}).items() if isinstance(v, str)}
    return page(
        request,
        "revision.html",
        nav="settings",
        revision=revision,
        previous=previous,
        diff=file_diff(old, new),
    )
