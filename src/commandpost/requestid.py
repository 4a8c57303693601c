"""A request ID on every HTTP request: taken from ``X-Request-ID`` when sane, else made here.

A proxy or a client that already tags its requests (nginx's ``$request_id``, a load balancer, a
CLI) sends ``X-Request-ID``; keeping its value lets one grep follow a request through every hop.
The value reaches log lines and a response header, so only a short token is kept: 1 to
:data:`MAX_LENGTH` characters from :data:`_SANE` (letters, digits and ``-._:+/=@``). Anything else —
huge, a control character, a NUL, a space, a quote — is replaced by a new ID, not refused: a
request is never failed for its tag.

The ID lives in :data:`REQUEST_ID` (a context variable) while the request is handled, so every log
record created meanwhile carries it (:func:`commandpost.logfilter.ServerLog.install` copies it onto
the record when the record is made, before it crosses to the log's listener thread), and the
response carries it back in ``X-Request-ID``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

HEADER = b"x-request-id"
MAX_LENGTH = 128
REQUEST_ID: ContextVar[str | None] = ContextVar("commandpost_request_id", default=None)
_bits = random.getrandbits
_SANE = re.compile(rb"[A-Za-z0-9._:+/=@-]{1,%d}" % MAX_LENGTH)


def accept(value: bytes | None) -> str:
    """The client's ID when it is a short printable token, else a new one: 128 random bits in 32 hex
    digits. An ID is a tag for following a request through the logs, not a secret (a client may set
    its own), so it comes from :mod:`random` (seeded from the OS, reseeded in a forked child) — a
    third of ``os.urandom``'s cost, and this runs on every request."""
    if value is not None and _SANE.fullmatch(value):
        return value.decode("ascii")
    return _bits(128).to_bytes(16, "big").hex()


def of(headers: list[tuple[bytes, bytes]]) -> str:
    """The ID for a request with these ASGI headers (the first ``X-Request-ID`` counts)."""
    for name, value in headers:
        if name == HEADER:
            return accept(value)
    return accept(None)


def echoed(send: Send, request_id: str) -> Send:
    """``send`` with ``X-Request-ID`` added to the response's head."""
    header = (HEADER, request_id.encode("ascii"))

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return send_with_id
