"""Browser authentication for the pages: the session cookie, CSRF on every form, the page unit of work.

``PageReader`` / ``PageResponder`` / ``PageAdmin`` are the pages' twins of ``deps.Reader`` …:
they resume the session from its HttpOnly cookie, refuse a mutating request whose CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``) does not match the session's with 403,
check the user's role exactly as a token's scope is checked, hand the page a ``deps.Ctx``, and
— for a mutating request — write the audit row and commit before the response is sent.

:class:`PageRoute` turns the error tree into HTML (or JSON for the pages' own ``fetch`` calls)
and a missing login into a redirect to ``/login?next=…``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from commandpost.db.engine import transaction
from commandpost.db.unavailable import unavailable
from commandpost.deps import MUTATING, Ctx, sessions_for
from commandpost.errors import CommandpostError, Forbidden, Unauthorized, Unavailable
from commandpost.policy import service as policy_service
from commandpost.security import users
from commandpost.web.render import page

log = logging.getLogger("commandpost.web")

SESSION_COOKIE = "cp_session"
LOGIN_CSRF_COOKIE = "cp_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FETCH_HEADER = "x-commandpost-fetch"


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class Refused(Exception):
    """A form re-rendered with its error (e.g. 422): the unit of work rolls back, nothing is stored."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def secure_cookies(request: Request) -> bool:
    """Cookies get ``Secure`` when the browser talks https (directly or as the public URL says)."""
    public: str = request.app.state.settings.public_url
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def safe_next(target: str | None) -> str:
    """Only a local path is followed after login (never ``//host`` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _next_of(request: Request) -> str:
    if request.method not in MUTATING:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return path
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    return safe_next(referer.path or "/")


async def _csrf_sent(request: Request) -> str | None:
    """The CSRF token a mutating request carries (form field or header); read before the unit of work."""
    if request.method not in MUTATING:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _decorate(request: Request, session: Session, who: users.LoggedIn, now: Any) -> None:
    """What every page's layout shows: who, their CSRF token, the org name, and the timezones: the
    reader's own (people.yaml ``timezone``; the org's for someone not in people.yaml), in which every
    time is shown, and the org's."""
    request.state.web = who
    request.state.now = now
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        request.state.timezone = request.state.org_timezone = "UTC"
        request.state.org = "commandpost"
        return
    person = config.person(who.principal.person)
    request.state.org_timezone = config.settings.timezone
    request.state.timezone = person.timezone if person is not None else config.settings.timezone
    request.state.org = config.settings.org


def _page_unit(needed: str) -> Callable[..., Iterator[Ctx]]:
    def dependency(request: Request, sent: Annotated[str | None, Depends(_csrf_sent)]) -> Iterator[Ctx]:
        mutating = request.method in MUTATING
        with transaction(sessions_for(request)) as session:
            now = request.app.state.clock.now()
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise LoginRequired
            try:
                who = users.resume(session, token=cookie, now=now)
            except Unauthorized:
                raise LoginRequired from None
            if mutating and not users.csrf_matches(who.csrf_token, sent):
                raise Forbidden(
                    "this form was refused: its CSRF token is missing or wrong "
                    "(reload the page and submit it again)"
                )
            _decorate(request, session, who, now)
            if not who.principal.allows(needed):
                raise Forbidden(
                    f"this needs the role '{needed}'; @{who.principal.person} has '{who.principal.scope}'",
                    details={"needed": needed, "held": who.principal.scope},
                )
            ctx = Ctx(session=session, principal=who.principal, now=now, request=request)
            yield ctx
            if getattr(request.state, "refused", False):
                session.rollback()  # answered with its error (or a question): nothing is kept, no audit
            elif mutating:
                ctx.write_audit(via="web")

    dependency.__name__ = f"page_{needed}"
    return dependency


PageReader = Annotated[Ctx, Depends(_page_unit("read"), scope="function")]
PageResponder = Annotated[Ctx, Depends(_page_unit("responder"), scope="function")]
PageAdmin = Annotated[Ctx, Depends(_page_unit("admin"), scope="function")]


def wants_json(request: Request) -> bool:
    return request.headers.get(FETCH_HEADER) == "1"


def error_response(request: Request, status: int, message: str, details: Any = None) -> Response:
    if wants_json(request):
        return JSONResponse({"error": {"message": message, "details": details}}, status_code=status)
    back = request.headers.get("referer", "")
    if urlsplit(back).netloc not in ("", request.url.netloc):
        back = ""
    return page(request, "error.html", status_code=status, message=message, status=status, back=back)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    return "invalid input — " + "; ".join(parts)


class PageRoute(APIRoute):
    """A page route: errors become an HTML page with their status (JSON for fetch), never a trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as exc:
                # caught inside FastAPI's function scope: the page unit, which exits after this
                # returns, would commit; this flag makes it roll back instead
                request.state.refused = True
                return exc.response
            except LoginRequired:
                target = quote(_next_of(request), safe="/?=&-_.~")
                if wants_json(request):
                    return JSONResponse({"error": {"message": "log in again"}}, status_code=401)
                return RedirectResponse(f"/login?next={target}", status_code=303)
            except CommandpostError as exc:
                return error_response(request, exc.http_status, exc.message, exc.details)
            except RequestValidationError as exc:
                return error_response(request, 422, _validation_message(exc))
            except Exception as exc:
                busy = unavailable(exc)
                if busy is not None:
                    response = error_response(request, busy.http_status, busy.message)
                    response.headers["Retry-After"] = str(busy.retry_after)
                    return response
                reference = uuid.uuid4().hex[:12]
                log.exception("page error %s on %s %s", reference, request.method, request.url.path)
                return error_response(request, 500, f"internal error (reference {reference}); see the log")

        return page_handler
