"""Login and logout. The login form has no session yet, so its CSRF token is a double-submit cookie."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.db.engine import transaction
from commandpost.deps import Ctx
from commandpost.errors import Unauthorized
from commandpost.security import users
from commandpost.security.throttle import login_keys
from commandpost.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageReader,
    PageRoute,
    safe_next,
    set_cookie,
)
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LOGIN_CSRF_MAX_AGE = 3600


def _login_form(
    request: Request, *, next_url: str, error: str = "", handle: str = "", status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        status_code=status,
        login_csrf=token,
        next_url=next_url,
        error=error,
        handle=handle,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, LOGIN_CSRF_MAX_AGE)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _login_form(request, next_url=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    handle: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not users.csrf_matches(expected, csrf_token):
        return _login_form(
            request,
            next_url=target,
            status=403,
            error="the login form was refused: its CSRF token is missing or wrong; try again",
        )
    state = request.app.state
    now = state.clock.now()
    keys = login_keys(handle, request.client.host if request.client else None)
    throttle = state.login_throttle
    with throttle.verifying:
        wait = throttle.retry_after(keys, now)
        if wait is None:
            try:
                # argon2 outside any write transaction: on SQLite a write lock held while hashing stops paging
                with state.read_sessions() as reading:
                    verified = users.verify_password(reading, handle=handle, password=password)
            except Unauthorized as exc:
                throttle.failed(keys, now)
                return _login_form(request, next_url=target, error=exc.message, handle=handle, status=401)
    if wait is not None:
        response = _login_form(
            request,
            next_url=target,
            error=f"too many failed logins for this handle or from this address; try again in {wait} s",
            handle=handle,
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    state.login_throttle.succeeded(keys)
    with transaction(state.sessions) as session:
        user = users.record_login(session, verified=verified, now=now)
        cookie = users.start_session(session, user=user, now=now)
        principal = users.resume(session, token=cookie, now=now).principal
        ctx = Ctx(session=session, principal=principal, now=now, request=request)
        ctx.audit_target(f"user:{user.handle}")
        ctx.write_audit(via="web")
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, int(users.SESSION_TTL.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, ctx: PageReader) -> Response:
    ctx.audit_target(f"user:{ctx.principal.person}")
    users.end_session(ctx.session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
