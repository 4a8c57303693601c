"""``serve``'s HTTP/1.1 protocol: uvicorn's (httptools), with each answer in one ``send()`` and the
alert intake answered without the ASGI round trip.

uvicorn writes a response's head and its body separately, and the transport sends each at once: two
system calls and two TCP segments (and two wake-ups of the client) per answer. Here a connection's
writes are gathered until the end of the event loop's turn and sent together.

The intake paths (:class:`commandpost.alerts.intake.front.IntakeFront`) are a monitoring system's,
re-sent all day. Through uvicorn's ASGI cycle each request costs message dictionaries, the
middleware and app chain, and a response head built and checked header by header — measured with
a do-nothing ASGI app, about four times the CPU of httptools and the event loop alone. Here the
protocol hands an intake request straight to the front (same body limit, metrics, replies and
errors as through the app) and writes the answer's bytes itself; uvicorn's parsing, keep-alive,
pipelining, ``Expect: 100-continue``, proxy headers and access log are kept. The answer starts in
the parser's callback once the body is in (no task, no extra turn of the loop) and waits only for
the group commit. Every other request goes through the app as before; the keep-alive timeout of
every connection is one lazy timer instead of one made after each answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any, cast

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from commandpost import logfilter, requestid
from commandpost.alerts.intake.front import IntakeFront, Target

log = logging.getLogger("uvicorn.error")

_SERVER_ERROR = (
    STATUS_LINE[500] + b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
    b"connection: close\r\n\r\nInternal Server Error"
)


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with one ``send()`` per answer and the intake's own path (above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_logger = logfilter.access_logger()  # off the loop while serve's log is (QuickAccess)
        self.front, self.proxy = _intake_front(self.app)
        self.waiting: tuple[RequestResponseCycle, Target] | None = None  # an intake request, body on its way
        self.default_head: tuple[list[tuple[bytes, bytes]] | None, bytes] = (None, b"")
        self.idle_since: float | None = None  # when the connection last went idle (None: busy)
        self.keep_alive_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = cast(asyncio.Transport, _GatheredWrites(transport, self.loop))

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """An intake request (when the app, not uvicorn's over-capacity answer, is to serve it) is
        answered by :func:`_answer_intake` once its body is in; anything else by the app."""
        front = self.front
        scope: Any = cycle.scope
        target = front.route(scope) if front is not None and app is self.app else None
        if front is None or target is None:
            super()._start_asgi_task(cycle, app)
            return
        if (
            cycle.more_body
            and not cycle.waiting_for_100_continue
            and not self.flow.read_paused
            and not front.announced_too_large(scope)
        ):
            self.waiting = (cycle, target)  # started by on_message_complete, or on_body if reading pauses
            return
        self._answer_now(cycle, target)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self.waiting is not None and self.flow.read_paused:  # a body past the buffer: read it as it comes
            self._answer_now(*self.waiting)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.waiting is not None:
            self._answer_now(*self.waiting)

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting = None  # its client is gone: nobody to answer
        if self.keep_alive_timer is not None:
            self.keep_alive_timer.cancel()
            self.keep_alive_timer = None
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timeout kept by one timer per connection (armed when the
        connection first goes idle, moved on lazily) instead of a timer made after every answer and
        cancelled by the next request."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.keep_alive_timer is None:
            self.keep_alive_timer = self.loop.call_at(
                self.idle_since + self.timeout_keep_alive, self._idle_check
            )

    def _unset_keepalive_if_required(self) -> None:
        """The connection is busy again (data came) or going: the idle timer, when it fires, sees it."""
        self.idle_since = None

    def _idle_check(self) -> None:
        """Close the connection if it has been idle for the whole keep-alive timeout, else look again
        when it would have been; a busy connection is looked at again when it next goes idle."""
        self.keep_alive_timer = None
        if self.idle_since is None or self.transport.is_closing():
            return
        due = self.idle_since + self.timeout_keep_alive
        if due <= self.loop.time():
            self.timeout_keep_alive_handler()
        else:
            self.keep_alive_timer = self.loop.call_at(due, self._idle_check)

    def _default_head(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """uvicorn's default headers (``server``, ``date``) as bytes, joined again only when uvicorn
        replaces the list (once a second, for the date)."""
        joined = self.default_head
        if joined[0] is not headers:
            joined = self.default_head = (headers, b"".join(b"%s: %s\r\n" % pair for pair in headers))
        return joined[1]

    def _answer_now(self, cycle: RequestResponseCycle, target: Target) -> None:
        """Run :meth:`_answer_intake` from here, in a context of its own, up to its first wait — the
        group commit — rather than as a task from the loop's next turn (what Python 3.12's eager
        tasks do): no task, no extra turn, the body parsed while it is in the CPU's cache."""
        self.waiting = None
        _resume(self._answer_intake(cycle, self.front, target), contextvars.copy_context())  # type: ignore[arg-type]

    async def _answer_intake(self, cycle: RequestResponseCycle, front: IntakeFront, target: Target) -> None:
        """What uvicorn's cycle and the app do for an intake request, without the ASGI messages: the
        request ID (taken or made, echoed), proxy headers, the front's reply, one write, the access
        line, then keep-alive or close and the next pipelined request."""
        scope: Any = cycle.scope
        request_id = requestid.of(scope["headers"])
        requestid.REQUEST_ID.set(request_id)  # this task's own context: its log records carry it
        try:
            if self.proxy is not None:
                await self.proxy(scope, _nothing, _nothing)  # sets the client and scheme it vouches for
            reply = await front.reply(scope, cast(Any, cycle.receive), target, self.loop)
            if reply is None or cycle.disconnected:
                return
            if cycle.flow.write_paused:
                await cycle.flow.drain()
            content = reply.content()
            head = [STATUS_LINE[reply.status], self._default_head(cycle.default_headers)]
            head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(content))
            for extra, text in reply.headers.items():
                head += [extra.lower().encode("latin-1"), b": ", text.encode("latin-1"), b"\r\n"]
            head += [requestid.HEADER, b": ", request_id.encode("ascii"), b"\r\n"]
            if not cycle.keep_alive:
                head.append(b"connection: close\r\n")
            head += [b"\r\n", content]
            if cycle.access_log:
                self.access_logger.info(
                    '%s - "%s %s HTTP/%s" %d',
                    get_client_addr(scope),
                    scope["method"],
                    get_path_with_query_string(scope),
                    scope["http_version"],
                    reply.status,
                )
            cycle.response_started = cycle.response_complete = True
            self.transport.write(b"".join(head))
            cycle.message_event.set()
            if not cycle.keep_alive:
                self.transport.close()
            cycle.on_response()
        except Exception:
            log.exception("Exception in the intake's answer")
            if not cycle.response_started and not cycle.disconnected:
                cycle.response_started = cycle.response_complete = True
                self.transport.write(_SERVER_ERROR)
            self.transport.close()
        finally:
            cycle.on_response = lambda: None


def _resume(coroutine: Coroutine[Any, Any, None], context: contextvars.Context) -> None:
    """One step of an intake answer: to its end, or to the future it waits for, which resumes it
    when done. :meth:`OneWriteHttpProtocol._answer_intake` catches every error itself."""
    try:
        waited = context.run(coroutine.send, None)
    except StopIteration:
        return
    if waited is None:  # a bare yield (``asyncio.sleep(0)``): the next turn of the loop
        asyncio.get_running_loop().call_soon(_resume, coroutine, context)
        return
    waited._asyncio_future_blocking = False  # taken over, as a task takes over what it awaits
    waited.add_done_callback(lambda _: _resume(coroutine, context))


def _intake_front(app: Any) -> tuple[IntakeFront | None, ProxyHeadersMiddleware | None]:
    """The app's intake front behind uvicorn's middleware (None: an app without one), and uvicorn's
    proxy-headers middleware when it wraps the app, rebuilt around nothing: awaited on a scope, it
    rewrites the client and scheme exactly as it does for every other request."""
    proxy = None
    while app is not None and not hasattr(app, "intake_front"):
        if isinstance(app, ProxyHeadersMiddleware):
            proxy = ProxyHeadersMiddleware(_nothing)
            proxy.trusted_hosts = app.trusted_hosts
        app = getattr(app, "app", None)
    return (app.intake_front if app is not None else None), proxy


async def _nothing(*_args: Any) -> Any:
    return None


class _GatheredWrites:
    """A transport whose writes are sent together at the end of the loop's turn (or on close);
    everything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._send)
        self._pending.append(data)

    def _send(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending) if len(pending) > 1 else pending[0])

    def close(self) -> None:
        self._send()  # what the response wrote goes out before the connection closes
        self._transport.close()

    def is_closing(self) -> bool:  # asked after every answer: not through __getattr__
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
