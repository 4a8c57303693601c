"""Settings → Users (admin): create web users, set their role, reset their password, disable and
enable them, through ``security.users`` as ``commandpost user …`` does from a terminal.

A step that takes access away (disable, reset a password, lower a role) is asked again first: its
form without ``confirm=yes`` answers with a confirmation page and changes nothing. A password made
here is shown once, in the answer to the POST that made it; neither it nor a typed one reaches the
audit row (which says only whether it was generated) or the log. A refused form is re-rendered with
the reason and the unit of work rolls back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.deps import Ctx
from commandpost.errors import Conflict, NotFound, ValidationFailed
from commandpost.policy import service as policy_service
from commandpost.security import users
from commandpost.security.rules import SCOPES
from commandpost.web.auth import PageAdmin, PageRoute, Refused
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
HOME = "/settings/users"
Refusal = ValidationFailed | Conflict | NotFound


def _render(
    request: Request,
    ctx: Ctx,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    shown: tuple[str, str] | None = None,
    role: str = "responder",
) -> Response:
    people = policy_service.current_config(ctx.session).people
    accounts = users.list_users(ctx.session)
    have = {u.handle for u in accounts}
    return page(
        request,
        "users.html",
        nav="settings",
        status_code=status,
        users=accounts,
        names={p.handle: p.name for p in people},
        candidates=[p.handle for p in people if p.handle not in have],
        roles=SCOPES,
        role=role,
        error=error,
        notice=notice,
        shown=shown,
    )


def _refused(request: Request, ctx: Ctx, exc: Refusal, **values: Any) -> Refused:
    return Refused(_render(request, ctx, status=exc.http_status, error=exc.message, **values))


def _ask(
    request: Request,
    user: users.User,
    *,
    step: str,
    title: str,
    consequence: str,
    button: str,
    fields: dict[str, str] | None = None,
    password: bool = False,
    error: str = "",
    status: int = 200,
) -> Refused:
    """The confirmation page of a step that takes access away; it posts the same form with ``confirm=yes``."""
    return Refused(
        page(
            request,
            "user_confirm.html",
            nav="settings",
            status_code=status,
            action=f"{HOME}/{user.handle}/{step}",
            title=title,
            consequence=consequence,
            button=button,
            fields=fields or {},
            password=password,
            error=error,
        )
    )


def _away_from(ctx: Ctx, user: users.User, *, still_admin: bool) -> str:
    """Where to go after a change to ``user``: an admin who took their own access away leaves Settings."""
    if user.handle != ctx.principal.person or still_admin:
        return HOME
    return "/login" if user.disabled_at is not None else "/incidents"


@router.get("/settings/users")
def users_page(request: Request, ctx: PageAdmin) -> Response:
    return _render(request, ctx)


@router.post("/settings/users")
def create_user(
    request: Request, ctx: PageAdmin, handle: Text = "", role: Text = "", password: Text = ""
) -> Response:
    try:
        user, generated = users.create_user(
            ctx.session,
            config=policy_service.current_config(ctx.session),
            handle=handle,
            role=role,
            password=password,
            now=ctx.now,
        )
    except (ValidationFailed, Conflict) as exc:
        raise _refused(request, ctx, exc, role=role) from None
    ctx.audit_target(f"user:{user.handle}", role=user.role, generated=bool(generated))
    return _render(
        request,
        ctx,
        notice=f"@{user.handle} is a {user.role} user now and can log in.",
        shown=(user.handle, generated) if generated else None,
    )


@router.post("/settings/users/{handle}/role")
def set_role(request: Request, handle: str, ctx: PageAdmin, role: Text = "", confirm: Text = "") -> Response:
    try:
        user = users.require_user(ctx.session, handle=handle)
        before = user.role
        if role in SCOPES and SCOPES.index(role) < SCOPES.index(before) and confirm != "yes":
            raise _ask(
                request,
                user,
                step="role",
                title=f"Make @{user.handle} {role}?",
                consequence=f"@{user.handle} is {before} now; as {role} they can no longer do what "
                f"only {before} may.",
                button=f"Make @{user.handle} {role}",
                fields={"role": role},
            )
        users.set_role(ctx.session, handle=user.handle, role=role)
    except (ValidationFailed, Conflict, NotFound) as exc:
        raise _refused(request, ctx, exc) from None
    ctx.audit_target(f"user:{user.handle}", role=user.role, was=before)
    return RedirectResponse(_away_from(ctx, user, still_admin=user.role == "admin"), status_code=303)


@router.post("/settings/users/{handle}/password")
def reset_password(
    request: Request, handle: str, ctx: PageAdmin, password: Text = "", confirm: Text = ""
) -> Response:
    try:
        user = users.require_user(ctx.session, handle=handle)
    except (ValidationFailed, NotFound) as exc:
        raise _refused(request, ctx, exc) from None

    def ask(error: str = "", status: int = 200) -> Refused:
        return _ask(
            request,
            user,
            step="password",
            title=f"Reset @{user.handle}'s password?",
            consequence=f"@{user.handle}'s old password stops working and their sessions end now.",
            button=f"Reset @{user.handle}'s password",
            password=True,
            error=error,
            status=status,
        )

    if confirm != "yes":
        raise ask()
    try:
        user, generated = users.reset_password(
            ctx.session, handle=user.handle, password=password, now=ctx.now
        )
    except ValidationFailed as exc:
        raise ask(exc.message, exc.http_status) from None
    ctx.audit_target(f"user:{user.handle}", generated=bool(generated))
    mine = user.handle == ctx.principal.person  # this session ended too: the next click logs in again
    return _render(
        request,
        ctx,
        notice=f"@{user.handle}'s password was reset; their sessions ended"
        + (", this one too: log in again with the new password." if mine else "."),
        shown=(user.handle, generated) if generated else None,
    )


@router.post("/settings/users/{handle}/disable")
def disable_user(request: Request, handle: str, ctx: PageAdmin, confirm: Text = "") -> Response:
    try:
        user = users.require_user(ctx.session, handle=handle)
        if confirm != "yes":
            raise _ask(
                request,
                user,
                step="disable",
                title=f"Disable @{user.handle}?",
                consequence=f"@{user.handle}'s sessions end now and they cannot log in until an admin "
                "enables them again. Their API tokens are not touched: revoke those under Settings.",
                button=f"Disable @{user.handle}",
            )
        users.set_disabled(ctx.session, handle=user.handle, disabled=True, now=ctx.now)
    except (ValidationFailed, Conflict, NotFound) as exc:
        raise _refused(request, ctx, exc) from None
    ctx.audit_target(f"user:{user.handle}", disabled=True)
    return RedirectResponse(_away_from(ctx, user, still_admin=False), status_code=303)


@router.post("/settings/users/{handle}/enable")
def enable_user(request: Request, handle: str, ctx: PageAdmin) -> Response:
    try:
        user = users.set_disabled(ctx.session, handle=handle, disabled=False, now=ctx.now)
    except (ValidationFailed, NotFound) as exc:
        raise _refused(request, ctx, exc) from None
    ctx.audit_target(f"user:{user.handle}", disabled=False)
    return RedirectResponse(HOME, status_code=303)
