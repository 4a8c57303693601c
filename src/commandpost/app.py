"""The FastAPI app factory: mounts every domain's router, maps the error tree, starts the engine."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from commandpost import __version__, openapi, requestid, wiring
from commandpost.alerts.intake.front import IntakeFront
from commandpost.alerts.intake.pipeline import Intake
from commandpost.clock import Clock, SystemClock
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.db.unavailable import unavailable
from commandpost.deps import QUERY_TOKEN_NAMES
from commandpost.errors import BadRequest, CommandpostError
from commandpost.lockfree_metrics import Counter, CounterChild, Histogram
from commandpost.policy import service as policy_service
from commandpost.security.throttle import LoginThrottle
from commandpost.settings import Settings, get_settings
from commandpost.web import api_docs, login_gate
from commandpost.web.headers import SecurityHeaders

log = logging.getLogger("commandpost")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


HTTP_REQUESTS = Counter(
    "commandpost_http_requests_total", "HTTP requests answered", ["method", "status_class"]
)
HTTP_SECONDS = Histogram("commandpost_http_request_seconds", "HTTP request latency")


def observe_request(method: str, status: int, seconds: float) -> None:
    """One answered request in the HTTP metrics (for handlers outside the middleware stack)."""
    HTTP_SECONDS.observe(seconds)
    _http_requests(method, status // 100).inc()


@functools.cache
def _http_requests(method: str, status_class: int) -> CounterChild:
    """The labelled child (``labels()`` is too slow to call per request)."""
    return HTTP_REQUESTS.labels(method, f"{status_class}xx")


class RequestMetrics:
    """Counts requests by method and status class and times them (cheap: no per-route labels)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, capture)
        finally:
            HTTP_SECONDS.observe(time.perf_counter() - started)
        _http_requests(scope["method"], status[0] // 100).inc()


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class _BodyTooLarge(BaseException):
    """Raised from ``receive`` past the limit. A BaseException so the framework's body parser,
    which turns any Exception into a 400, lets it through to :class:`BodyLimit`."""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 in the error shape, by Content-Length
    up front or while a chunked body streams in."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, receive, send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than the {self.limit // 1024} KiB limit"
        await JSONResponse(error_body("payload_too_large", message), status_code=413)(scope, receive, send)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = first.get("ctx") or {}
        return JSONResponse(
            error_body("bad_request", f"request body is not valid JSON: {ctx.get('error', 'parse error')}"),
            status_code=400,
        )
    details = [
        {"loc": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    summary = "; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['message']}" for d in details[:5])
    return JSONResponse(
        error_body("validation_failed", f"invalid request: {summary}", details), status_code=422
    )


def bearer_challenge(request: Request, message: str) -> str:
    """RFC 6750's ``WWW-Authenticate`` for an API 401: no error code when no bearer token was sent,
    ``invalid_request`` for a token in the query string, ``invalid_token`` for a wrong one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if any(name in request.query_params for name in QUERY_TOKEN_NAMES):
        error = "invalid_request"
    elif scheme.lower() == "bearer" and value.strip():
        error = "invalid_token"
    else:
        return 'Bearer realm="commandpost"'
    description = "".join(c for c in message.replace('"', "'") if " " <= c <= "~" and c != "\\")
    return f'Bearer realm="commandpost", error="{error}", error_description="{description}"'


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CommandpostError)
    async def _domain(request: Request, exc: CommandpostError) -> JSONResponse:
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = bearer_challenge(request, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",  # e.g. a body that is not UTF-8 or nests too deep to parse
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
        }.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"

        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        """A value the database refuses (PostgreSQL: a NUL byte in text, a number out of range): the
        request's fault, and its transaction has rolled back. Not echoed: it may hold anything."""
        log.info("refused a value the database cannot store on %s %s", request.method, request.url.path)
        refused = BadRequest(
            "a value in the request cannot be stored or compared by the database "
            "(a NUL byte in text, or a number out of range); nothing was changed"
        )
        return JSONResponse(refused.to_dict(), status_code=refused.http_status)

    # Database errors get their own entry: Starlette's catch-all (``Exception``) answers and then
    # re-raises, so uvicorn logged a traceback for every 503 of a locked database.
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        busy = unavailable(exc)
        if busy is not None:  # locked past the busy timeout, disk full, server unreachable: retry later
            log.warning(
                "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
            )
            return JSONResponse(
                busy.to_dict(), status_code=busy.http_status, headers={"Retry-After": str(busy.retry_after)}
            )
        incident_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", incident_id, request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", f"internal error (reference {incident_id}); see the server log"),
            status_code=500,
        )


def _health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: database, schema and an applied ops revision")
    def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        # A probe only reads: on SQLite a deferred transaction, so it neither takes the write lock
        # nor waits out the busy timeout (and reports 503) while a writer holds it.
        engine: Engine = request.app.state.engine.execution_options(sqlite_begin="DEFERRED")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["migrations"] = (
                "ok" if migrate.is_current(engine) else "behind: run 'commandpost db upgrade'"
            )
            with request.app.state.read_sessions() as session:
                revision = policy_service.latest_revision(session)
                config = policy_service.current_config(session) if revision else None
            checks["ops"] = (
                f"revision {revision.id} ({revision.content_hash[:12]})"
                if revision
                else "none applied: run 'commandpost apply OPS_DIR'"
            )
            # a detail, not a readiness condition: pages still go out on the other channels
            from commandpost.policy.email_contacts import email_recipients, smtp_missing

            settings: Settings = request.app.state.settings
            if settings.smtp_host:
                checks["email"] = f"ok: SMTP {settings.smtp_host}:{settings.smtp_port}"
            elif config is not None and (recipients := email_recipients(config.people, config.teams)):
                checks["email"] = f"warning: {smtp_missing(recipients)}"
            else:
                checks["email"] = "off (COMMANDPOST_SMTP_HOST is not set; nobody has an email contact)"
        except Exception as exc:  # readiness reports, it never raises
            checks.setdefault("database", f"unreachable: {type(exc).__name__}")
        ready = (
            checks.get("database") == "ok"
            and checks.get("migrations") == "ok"
            and "revision" in checks.get("ops", "")
        )
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics about commandpost itself",
        response_class=PlainTextResponse,
    )
    def metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class App(FastAPI):
    """The FastAPI app with the alert intake paths served ahead of its middleware stack.

    Every HTTP request gets its request ID first (:mod:`commandpost.requestid`). Intake requests go
    to :class:`IntakeFront` (bare ASGI: the stack would cost more CPU than storing the event), and a
    login from a throttled address is refused by the login gate;
    every other request, and anything the front does not recognise, goes through FastAPI as usual.
    """

    intake_front: IntakeFront | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # every answer, the intake's and the login gate's too, has its ID
            request_id = requestid.of(scope["headers"])
            token = requestid.REQUEST_ID.set(request_id)
            try:
                await self._answer(scope, receive, requestid.echoed(send, request_id))
            finally:
                requestid.REQUEST_ID.reset(token)
        else:
            await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await login_gate.refused(scope, send, self.state.login_throttle, self.state.clock):
            return
        front = self.intake_front
        if front is not None:
            target = front.route(scope)
            if target is not None:
                await front(scope, receive, send, target)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    run_engine: bool | None = None,
) -> App:
    settings = settings or get_settings()
    wiring.wire(settings)
    engine = engine or create_db_engine(
        settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    sessions: sessionmaker[Session] = make_session_factory(engine)
    clock = clock or SystemClock()
    start_engine = settings.engine_enabled if run_engine is None else run_engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if start_engine:
            from commandpost.engine.runner import Runner

            runner = Runner(
                sessions, clock, settings=settings, processors=wiring.engine_plan(settings).sequence()
            )
            runner.start()
            app.state.engine_runner = runner
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            app.state.alert_intake.close()

    app = App(
        title="commandpost",
        version=__version__,
        description="Incident response the SRE way. Bearer tokens on every endpoint except health, "
        "the status page, iCal feeds and intake.",
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        docs_url=None,  # served from commandpost itself, not a CDN: web/api_docs.py
        redoc_url=None,
    )
    app.state.settings, app.state.engine, app.state.sessions, app.state.clock = (
        settings,
        engine,
        sessions,
        clock,
    )
    app.state.read_sessions = make_session_factory(engine, read_only=True)
    app.state.login_throttle = LoginThrottle()
    # the status page's email form: 5 requests an hour per client and per address (web/pages/status.py)
    app.state.subscribe_throttle = LoginThrottle(limit=5, window=timedelta(hours=1))
    app.state.engine_runner = None
    install_error_handlers(app)
    _health_routes(app)
    for router in wiring.routers():
        app.include_router(router)
    from commandpost.web.routes import mount as mount_pages

    mount_pages(app)
    app.include_router(api_docs.router)
    openapi.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, docs_paths=("/docs", "/redoc"))
    app.add_middleware(RequestMetrics)
    app.state.alert_intake = Intake(
        sessions=sessions, read_sessions=app.state.read_sessions, settings=settings, clock=clock
    )
    app.intake_front = IntakeFront(
        app.state.alert_intake, max_body_bytes=settings.max_body_bytes, observe=observe_request
    )
    return app
