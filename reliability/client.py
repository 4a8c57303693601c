"""A client that keeps trying: events sent at a steady rate over keep-alive connections, each retried
until the server answers 2xx (through refused connections, resets and 5xx/429 while a server is down).

Requests are pre-encoded; responses are read with :func:`bench.loadgen.read_response` (the load
generator's own parser). Bounded: every event gives up at ``deadline``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bench.loadgen import encode, read_response

RETRY_PAUSE = 0.1
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass
class Outcome:
    """What happened to one event: its final status (0: never answered) and how many tries it took."""

    status: int = 0
    attempts: int = 0
    first_latency: float = 0.0
    """seconds from the event's scheduled time to the answer of its first attempt (0 when that failed)"""
    statuses: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes, timeout: float) -> int:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), timeout
                )
            assert self.reader is not None and self.writer is not None
            self.writer.write(request)
            return await asyncio.wait_for(read_response(self.reader), timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _steady(
    host: str,
    port: int,
    requests: list[bytes],
    rate: float,
    connections: int,
    deadline: float,
    timeout: float,
) -> list[Outcome]:
    outcomes = [Outcome() for _ in requests]
    start = time.monotonic() + 0.1
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        conn = _Connection(host, port)
        try:
            while next_index < len(requests):
                i = next_index
                next_index += 1
                due = start + i / rate
                if (delay := due - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                await _until_ok(conn, requests[i], outcomes[i], due, deadline, timeout)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return outcomes


async def _until_ok(
    conn: _Connection, request: bytes, outcome: Outcome, due: float, deadline: float, timeout: float
) -> None:
    while time.monotonic() < deadline:
        outcome.attempts += 1
        try:
            status = await conn.send(request, timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        outcome.statuses.append(status)
        if outcome.attempts == 1 and status:
            outcome.first_latency = time.monotonic() - due
        outcome.status = status
        if 200 <= status < 300 or (status and status not in RETRYABLE):
            return
        await asyncio.sleep(RETRY_PAUSE)


def send_steadily(
    base: str,
    items: list[tuple[str, bytes]],
    *,
    rate: float,
    connections: int = 16,
    max_seconds: float = 600.0,
    timeout: float = 10.0,
) -> list[Outcome]:
    """POST each ``(path, body)`` at ``rate`` per second, every one retried until 2xx or ``max_seconds``."""
    host, port = base.removeprefix("http://").split(":")
    requests = [encode(f"{base}{path}", [body])[0] for path, body in items]
    deadline = time.monotonic() + max_seconds
    return asyncio.run(_steady(host, int(port), requests, rate, connections, deadline, timeout))
