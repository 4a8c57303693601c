"""Security headers on every response the app stack answers (pages, their fetches, the API).

- ``Content-Security-Policy``: scripts and stylesheets from this origin only (``/static``; no inline
  script or style, no ``eval``, nothing from a CDN), images from this origin, ``fetch`` to this
  origin, forms posting to this origin, no ``<base>``, no plugins, and ``frame-ancestors 'none'``:
  no other page can frame a command post and overlay its "Escalate now" button. No relaxation: the
  charts are SVG whose colours are presentation attributes, not ``style`` (matplotlib's needed
  ``style-src-attr 'unsafe-inline'`` and ``data:`` images until issue 18).
- ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``.
- ``X-Content-Type-Options: nosniff``: a response is only ever what its Content-Type says.
- ``Referrer-Policy: same-origin``: an incident's URL never leaves in a ``Referer`` header (the
  pages' own "back" links and post-login redirects still read it on this origin).
- ``Cache-Control: no-store`` unless the response set its own (the status page says ``no-cache``,
  iCal feeds ``private, max-age=300``): Back after logout does not show an incident from cache, and
  no shared cache keeps a page or an API answer. ``/static`` stays cacheable.

The interactive API docs (``/docs``, ``/redoc``, :mod:`commandpost.web.api_docs`) load Swagger UI
and ReDoc from ``/static/vendor`` and start them from a file: scripts from this origin only, like
every page. Their policy adds what those libraries need: ``<style>`` elements (ReDoc's
styled-components inject them; ``style-src 'unsafe-inline'``) and a worker made from a ``blob:``
(ReDoc's search index).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
DOCS_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src blob:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
STATIC_PREFIX = "/static/"

_COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Pure ASGI (cheaper than ``BaseHTTPMiddleware``): adds the headers to ``http.response.start``
    without touching the body; a header the response already carries is kept as it is."""

    def __init__(self, app: Callable[..., Awaitable[None]], docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = DOCS_POLICY if path in self.docs_paths else CONTENT_SECURITY_POLICY
        added = [*_COMMON, (b"content-security-policy", policy.encode())]
        if not path.startswith(STATIC_PREFIX):
            added.append((b"cache-control", b"no-store"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers.extend((name, value) for name, value in added if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
