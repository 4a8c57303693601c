"""The intake paths as bare ASGI, placed in front of the FastAPI app.

``POST /v2/enqueue``, ``POST /v2/change/enqueue`` and ``POST /api/v1/intake/{source}/{key}`` are
the hot paths: a monitoring system re-sends its alerts all day. Through the app they would pass
FastAPI's telemetry and error middleware, the body limit, request metrics and routing — measured,
more CPU than storing the event. The app hands these requests here first (see
:class:`commandpost.app.App`) and this does only what the stack did for them: the body limit
(413), the error shape of every other endpoint (``{"error": {code, message, details}}`` with
Retry-After), request metrics, and a 500 with a reference for a bug. Anything else — another
method, a trailing slash, a missing segment — goes on to the app, which answers as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from commandpost.alerts.intake.pipeline import Intake, IntakeReply
from commandpost.db import nul
from commandpost.db.unavailable import unavailable
from commandpost.errors import CommandpostError

log = logging.getLogger("commandpost")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Target = str | tuple[str, str]
"""``/v2/enqueue`` or ``/v2/change/enqueue``, or the (source, key) of ``/api/v1/intake/{source}/{key}``"""
Observe = Callable[[str, int, float], None]
"""Called once per answered request with (method, status, seconds): the app's request metrics."""

PAGERDUTY, CHANGE = "/v2/enqueue", "/v2/change/enqueue"
SOURCE_PREFIX = "/api/v1/intake/"
_JSON = (b"content-type", b"application/json")


class IntakeFront:
    def __init__(self, intake: Intake, *, max_body_bytes: int, observe: Observe) -> None:
        self.intake = intake
        self.limit = max_body_bytes
        self.observe = observe

    def route(self, scope: Scope) -> Target | None:
        """What a request is for: a PagerDuty path, (source, key), or None (one for the app)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = _route_path(scope)
        if path in (PAGERDUTY, CHANGE):
            return path
        if path.startswith(SOURCE_PREFIX):
            parts = path[len(SOURCE_PREFIX) :].split("/")
            if len(parts) == 2 and parts[0] and parts[1]:
                return parts[0], parts[1]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, target: Target) -> None:
        reply = await self.reply(scope, receive, target)
        if reply is not None:
            await _send(send, reply.status, reply.content(), reply.headers)

    async def reply(
        self, scope: Scope, receive: Receive, target: Target, loop: asyncio.AbstractEventLoop | None = None
    ) -> IntakeReply | None:
        """The answer to one intake request (None: the client went away before sending its body),
        counted in the request metrics. ``serve``'s HTTP protocol calls this directly, without the
        ASGI messages (:mod:`commandpost.http_protocol`), and names its event ``loop``."""
        started = time.perf_counter()
        status = 500
        try:
            reply = await self._answer(scope, receive, target, loop)
            if reply is not None:
                status = reply.status
            return reply
        finally:
            self.observe("POST", status, time.perf_counter() - started)

    async def _answer(
        self, scope: Scope, receive: Receive, target: Target, loop: asyncio.AbstractEventLoop | None
    ) -> IntakeReply | None:
        try:
            body = await self._body(scope, receive)
            if body is None:
                return None
            body = nul.clean_json_bytes(body)  # NUL is stored as U+FFFD on both databases (db/nul.py)
            if isinstance(target, str):
                return await self.intake.pagerduty(body, change=target == CHANGE, loop=loop)
            source, key = target
            return await self.intake.receive(source, key, body, _headers(scope), loop=loop)
        except _TooLarge:
            message = f"request body is larger than the {self.limit // 1024} KiB limit"
            return IntakeReply(413, _error("payload_too_large", message))
        except CommandpostError as exc:
            retry_after = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return IntakeReply(exc.http_status, exc.to_dict(), headers)
        except Exception as exc:
            busy = unavailable(exc)
            if busy is not None:
                return IntakeReply(busy.http_status, busy.to_dict(), {"Retry-After": str(busy.retry_after)})
            reference = uuid.uuid4().hex[:12]
            log.exception("unhandled error %s on POST %s", reference, scope["path"])
            message = f"internal error (reference {reference}); see the server log"
            return IntakeReply(500, _error("internal_error", message))

    def announced_too_large(self, scope: Scope) -> bool:
        """Whether the request's ``Content-Length`` is past the limit: refused before its body is read."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                return True
        return False

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, refused past the limit (by Content-Length up front, else as it streams in)."""
        if self.announced_too_large(scope):
            raise _TooLarge
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body"):
            if len(body) > self.limit:
                raise _TooLarge
            return body
        chunks = [body]
        size = len(body)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


class _TooLarge(Exception):
    pass


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


def _route_path(scope: Scope) -> str:
    """The path without the ASGI ``root_path`` (how Starlette's router sees it)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; the first of repeated headers wins, as in Starlette."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


async def _send(send: Send, status: int, content: bytes, extra: dict[str, str]) -> None:
    headers = [_JSON, (b"content-length", str(len(content)).encode())]
    if extra:
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
