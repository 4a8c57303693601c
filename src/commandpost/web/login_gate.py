"""``POST /login`` from a client address that is already throttled is refused before FastAPI sees it.

A script guessing passwords in a loop keeps sending after its first 429: each of those requests, had
it gone through the middleware stack, form parsing and the login page's template, would take CPU that
intake and the engine need (20 such clients on a 2-core server took intake's p99 from 14 ms to a
second). The gate answers from the throttle's memory alone (``security.throttle``), on the event
loop, without reading the body; a throttled *handle* from a fresh address still reaches the login
page, which checks it after parsing the form.

The answer waits :data:`TARPIT_SECONDS` first (an ``asyncio.sleep``: no CPU, no thread). A refusal
that came at once would only make a guessing loop spin faster — measured, 20 clients sent 1,000
refused logins a second and intake's p99 rose to a second; held for a second each, they send 20.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from commandpost.clock import Clock
from commandpost.security.throttle import LoginThrottle, login_keys

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
TARPIT_SECONDS = 1.0


def _is_login_post(scope: MutableMapping[str, Any]) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/login"


async def refused(scope: MutableMapping[str, Any], send: Send, throttle: LoginThrottle, clock: Clock) -> bool:
    """True when the request was answered 429 here (the address is throttled)."""
    if not _is_login_post(scope) or not scope.get("client"):
        return False
    address_key = login_keys("", scope["client"][0])[1:]
    wait = throttle.retry_after(address_key, clock.now())
    if wait is None:
        return False
    await asyncio.sleep(TARPIT_SECONDS)
    body = (
        "<!doctype html><meta charset=utf-8><title>Too many failed logins</title>"
        f"<p>too many failed logins for this handle or from this address; try again in {wait} s "
        '<a href="/login">(log in)</a></p>'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(wait).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return True
